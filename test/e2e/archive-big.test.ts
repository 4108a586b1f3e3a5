// A 1 GB log is archived with bounded memory: chunked gzip members streamed into a multipart upload.
import { describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { writeDigits } from "../support/biglog.ts";
import { spawnServer } from "../support/process.ts";
import { startS3 } from "../support/s3.ts";
import { tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Writes about `bytes` of JSONL whose text compresses like a real build log (~5x, not the ~40x of
 * padded synthetic lines): lines cycle through a 1 MB pool of random text, beyond gzip's 32 KB window.
 * Hashes what it writes, so the file need not be read again to be compared.
 */
function writeRealisticLog(path: string, bytes: number): { size: number; lines: number; sha1: string } {
  const words = ["compiling", "linking", "warning:", "test", "ok", "FAILED", "downloading", "src/app/module"];
  const pool = Array.from({ length: 8192 }, (_, i) => {
    const noise = Math.random().toString(36).slice(2) + Math.random().toString(16).slice(2);
    return `${words[i % words.length]} ${words[(i * 7) % words.length]}_${i % 997} ${noise}`;
  });
  // `{"ts":"…45.MMMZ",…,"line":"[N] <pool entry>"}`, built in bytes (2-3x faster than strings).
  const ts = Buffer.from('{"ts":"2025-02-12T10:56:45.');
  const mid = Buffer.from('Z","stream":"stdout","step":"build","line":"[');
  const ends = pool.map((p) => Buffer.from(`] ${p}"}\n`));
  const perChunk = 32_768;
  const chunk = Buffer.allocUnsafe(perChunk * (ts.length + 3 + mid.length + 20 + 100));
  const fd = openSync(path, "w");
  const hash = new Bun.CryptoHasher("sha1");
  let size = 0;
  let lines = 0;
  try {
    while (size < bytes) {
      let o = 0;
      for (let i = 0; i < perChunk; i++, lines++) {
        chunk.set(ts, o);
        o = writeDigits(chunk, o + ts.length, lines % 1000, 3);
        chunk.set(mid, o);
        o = writeDigits(chunk, o + mid.length, lines);
        const end = ends[lines % ends.length]!;
        chunk.set(end, o);
        o += end.length;
      }
      const buf = chunk.subarray(0, o);
      writeSync(fd, buf);
      hash.update(buf);
      size += o;
    }
  } finally {
    closeSync(fd);
  }
  return { size, lines, sha1: hash.digest("hex") };
}

async function digest(chunks: AsyncIterable<Uint8Array>): Promise<{ bytes: number; sha1: string }> {
  const h = new Bun.CryptoHasher("sha1");
  let bytes = 0;
  for await (const c of chunks) {
    h.update(c);
    bytes += c.length;
  }
  return { bytes, sha1: h.digest("hex") };
}

/**
 * Writing, archiving and reading back 1 GB is ~25 s on an idle 2-core machine, and several times that
 * when the CI machine is busy (over 120 s with two busy loops and other suites beside it): the deadline
 * only catches a hang.
 */
const BIG_DEADLINE_MS = 420_000;

describe("big archives", () => {
  test(
    "a 1 GB log is archived and verified while the server stays under 256 MB RSS",
    async () => {
      await using s3 = await startS3();
      using dir = tempDir();
      mkdirSync(join(dir.path, "logs"));
      const path = join(dir.path, "logs", "big.jsonl");
      const log = writeRealisticLog(path, 1024 ** 3);
      await using server = await spawnServer({ log_storage: { archive: s3.archive() } }, { dir: dir.path });
      // Registering the job adopts the file written above (its committed size is the whole file).
      const put = await fetch(`${server.url}/api/jobs/big`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ workspace: "ws", task: "big", created_at: "2025-02-12T10:56:45Z" }),
      });
      expect(((await put.json()) as { bytes: number }).bytes).toBe(log.size);
      const started = performance.now();
      await fetch(`${server.url}/worker/jobs/big/complete`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ status: "completed" }),
      });
      const view = await waitFor(
        "the 1 GB archive",
        async () => {
          const j = (await (await fetch(`${server.url}/api/jobs/big`)).json()) as {
            archive: { state: string; key: string; bytes: number; log_bytes: number } | null;
          };
          return j.archive?.state === "uploaded" ? j.archive : undefined;
        },
        BIG_DEADLINE_MS - 60_000,
        50,
      );
      const seconds = (performance.now() - started) / 1000;
      const rss = server.peakRss();
      console.log(
        `1 GB archive: ${(log.size / 1e6 / seconds).toFixed(0)} MB/s (${seconds.toFixed(1)} s, ${(view.bytes / 1e6).toFixed(0)} MB gzip), peak server RSS ${(rss / 2 ** 20).toFixed(0)} MB`,
      );

      const obj = await s3.getStream(view.key);
      expect({
        log_bytes: view.log_bytes,
        archived: await digest(obj.pipe(createGunzip())),
      }).toEqual({ log_bytes: log.size, archived: { bytes: log.size, sha1: log.sha1 } });
      expect(rss).toBeLessThan(256 * 2 ** 20);
    },
    BIG_DEADLINE_MS,
  );
});
