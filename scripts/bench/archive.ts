// Figure: a big log archived to a local S3 server (s3rver in this process) vs `gzip -6` of the same file.
import { linkSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startS3 } from "../../test/support/s3.ts";
import { type BenchOptions, type Figure, fmt, MiB, postJson, spawnBinary, until } from "./common.ts";
import type { BigLog } from "./read.ts";

interface ArchiveView {
  state: string;
  bytes: number;
  log_bytes: number;
}

async function gzipMs(path: string): Promise<number> {
  const t0 = performance.now();
  const proc = Bun.spawn(["bash", "-c", 'exec gzip -6 -c "$0" > /dev/null', path], { stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error("gzip -6 failed");
  return performance.now() - t0;
}

export async function benchArchive(o: BenchOptions, log: BigLog): Promise<Figure> {
  await using s3 = await startS3();
  const dir = join(o.dir, "archive");
  mkdirSync(join(dir, "logs"), { recursive: true });
  linkSync(log.path, join(dir, "logs", "big.jsonl"));
  await using server = await spawnBinary({ log_storage: { archive: s3.archive() } }, dir);
  await postJson(`${server.url}/api/jobs/big`, { workspace: "bench", task: "archive" }, "PUT");

  const base = await gzipMs(log.path);
  const t0 = performance.now();
  await postJson(`${server.url}/worker/jobs/big/complete`, { status: "completed" });
  const view = await until(
    "the archive to be uploaded and verified",
    async () => {
      const j = (await (await fetch(`${server.url}/api/jobs/big`)).json()) as { archive: ArchiveView | null };
      return j.archive?.state === "uploaded" ? j.archive : undefined;
    },
    300_000,
    25,
  );
  const ms = performance.now() - t0;
  if (view.log_bytes !== log.size) throw new Error(`archive holds ${view.log_bytes} bytes of ${log.size}`);
  const rss = server.peakRss();
  const rate = log.size / MiB / (ms / 1000);
  const baseRate = log.size / MiB / (base / 1000);
  const gb = (log.size / 1024 ** 3).toFixed(2);
  return {
    rows: [
      {
        figure: `archive ${gb} GB to local S3`,
        value: `${fmt.int(rate)} MB/s, ${fmt.mb(rss)} MB RSS`,
        baseline: `${fmt.int(baseRate)} MB/s (gzip -6)`,
        ratio: fmt.ratio(rate / baseRate),
        target: "≥ 1.5×, RSS ≤ 256 MB",
        pass: rate / baseRate >= 1.5 && rss <= 256 * MiB,
      },
    ],
    notes: [
      `archive: from POST …/complete to the archive verified (gzip, multipart upload, HEAD), ${(view.bytes / 1e6).toFixed(0)} MB ` +
        `gzip (${(log.size / view.bytes).toFixed(1)}×); s3rver runs in the bench process and competes for the ` +
        "same 2 cores. Baseline: `gzip -6 -c FILE > /dev/null` of the same file, page cache warm.",
    ],
  };
}
