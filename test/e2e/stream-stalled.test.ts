// 100 viewers that stop reading during a large ingest: server memory stays bounded, and each gets every byte.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { spawnServer } from "../support/process.ts";
import { within } from "../support/ws.ts";

const MB = 1024 * 1024;
/** Size of the ingest; the suite runs 64 MB (100 viewers × 64 MB = 6.4 GB delivered), `STALLED_MB=1024` the full soak. */
const INGEST_MB = Number(process.env.STALLED_MB ?? 64);
const VIEWERS = 100;

function body(start: number, n: number): string {
  const pad = "s".repeat(60);
  const lines: string[] = [];
  for (let i = start; i < start + n; i++) lines.push(`{"stream":"stdout","line":"stalled-${i} ${pad}"}`);
  return `{"step_name":"build","lines":[${lines.join(",")}]}`;
}

test(
  `${VIEWERS} stalled viewers during a ${INGEST_MB} MB ingest: bounded server RSS, every viewer complete once it reads`,
  async () => {
    // The size cap (1 GiB by default) would hold lines back from a 1 GB soak: raise it past the ingest.
    await using srv = await spawnServer({
      limits: { max_streams_per_job: 1000, max_job_bytes: `${INGEST_MB * 4}MiB` },
    });
    const viewers = Array.from({ length: VIEWERS }, () => {
      const ws = new WebSocket(`${srv.url.replace(/^http/, "ws")}/api/jobs/stalled/logs/stream`);
      const v = {
        ws,
        bytes: 0,
        hasher: null as Bun.CryptoHasher | null,
        opened: Promise.withResolvers<void>(),
        closed: Promise.withResolvers<{ code: number; reason: string }>(),
      };
      ws.addEventListener("open", () => v.opened.resolve());
      ws.addEventListener("message", (e) => {
        const text = e.data as string;
        v.bytes += Buffer.byteLength(text);
        v.hasher?.update(text);
      });
      ws.addEventListener("close", (e) => v.closed.resolve({ code: e.code, reason: e.reason }));
      return v;
    });
    // Two viewers also hash what they get: byte counts prove completeness, hashes prove order and content.
    viewers[0]!.hasher = new Bun.CryptoHasher("sha256");
    viewers[VIEWERS - 1]!.hasher = new Bun.CryptoHasher("sha256");
    await within("every viewer to open", Promise.all(viewers.map((v) => v.opened.promise)), 30_000);
    for (const v of viewers) expect(v.ws.pause()).toBe(true);

    const baseline = srv.rss();
    const path = join(srv.dir, "logs", "stalled.jsonl");
    let lines = 0;
    while (lines === 0 || Bun.file(path).size < INGEST_MB * MB) {
      const res = await fetch(`${srv.url}/worker/jobs/stalled/logs`, {
        method: "POST",
        body: body(lines, 2000),
      });
      expect(res.status).toBe(200);
      lines += 2000;
    }
    const peakStalled = srv.peakRss();
    await fetch(`${srv.url}/worker/jobs/stalled/complete`, {
      method: "POST",
      body: '{"status":"completed"}',
    });
    for (const v of viewers) v.ws.resume();
    const ends = await within(
      "every viewer to finish",
      Promise.all(viewers.map((v) => v.closed.promise)),
      240_000 * Math.max(1, INGEST_MB / 64),
    );

    const size = Bun.file(path).size;
    const fileHash = new Bun.CryptoHasher("sha256");
    for await (const chunk of Bun.file(path).stream()) fileHash.update(chunk);
    const digest = fileHash.digest("hex");
    console.log(
      `${VIEWERS} stalled viewers, ${(size / MB).toFixed(0)} MB ingest: server RSS ${(baseline / MB).toFixed(0)} MB before, ` +
        `peak ${(peakStalled / MB).toFixed(0)} MB while stalled, ${(srv.peakRss() / MB).toFixed(0)} MB overall`,
    );
    expect(peakStalled - baseline).toBeLessThan(150 * MB);
    expect(srv.peakRss()).toBeLessThan(400 * MB);
    expect({
      ends: new Set(ends.map((e) => `${e.code} ${e.reason}`)),
      short: viewers.filter((v) => v.bytes !== size).length,
      hashes: [viewers[0]!.hasher!.digest("hex"), viewers[VIEWERS - 1]!.hasher!.digest("hex")],
    }).toEqual({ ends: new Set(["1000 job completed"]), short: 0, hashes: [digest, digest] });
  },
  300_000 * Math.max(1, INGEST_MB / 64),
);
