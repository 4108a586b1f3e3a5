// Archives as every gzip reader reads them, and reads of archived logs that fetch only the blocks they need.
import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipFile } from "../../src/archive/gzip.ts";
import { parseIndex, stepSpans } from "../../src/archive/seek-index.ts";
import { startS3, type TestS3 } from "../support/s3.ts";
import { startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";
import { watch } from "../support/ws.ts";

type ArchiveView = { state: string; key: string; bytes: number; log_bytes: number; sha256: string };

/** Steps run one after another, as in a workflow; ~190 bytes a line, so 24,000 lines are ~4.5 MB: 5 blocks. */
const STEPS = ["checkout", "build", "test", "deploy"];
const LINES = 24_000;
const stepOf = (i: number) => STEPS[Math.floor((i * STEPS.length) / LINES)]!;
const text = (i: number) =>
  `[${i}] ${(i * 2654435761).toString(36)} ${"compiling module ".repeat(1 + (i % 7))}`;

/** Runs a job of LINES lines in sequential steps and waits for its verified archive. */
async function archivedJob(s: TestServer, id: string, lines = LINES): Promise<ArchiveView> {
  const put = await s.fetch(`/api/jobs/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ workspace: "ws", task: "seek", created_at: "2025-02-12T10:56:45.123Z" }),
  });
  expect(put.status).toBe(201);
  for (let i = 0; i < lines; ) {
    const step = stepOf(i);
    const batch = [];
    for (; i < lines && batch.length < 2000 && stepOf(i) === step; i++) {
      batch.push({
        ts: "2025-02-12T10:56:45.123Z",
        stream: i % 10 === 0 ? "stderr" : "stdout",
        line: text(i),
      });
    }
    expect((await s.post(`/worker/jobs/${id}/logs`, { step_name: step, lines: batch })).status).toBe(200);
  }
  await s.post(`/worker/jobs/${id}/complete`, { status: "completed" });
  return untilEvent(s.events, "archive.uploaded", `the archive of ${id}`, async () => {
    const j = (await (await s.fetch(`/api/jobs/${id}`)).json()) as {
      bytes: number;
      archive: ArchiveView | null;
    };
    return j.archive?.state === "uploaded" && j.archive.log_bytes === j.bytes ? j.archive : undefined;
  });
}

/** Moves the local log away, so reads go to the archive; returns its lines. */
function dropLocal(s: TestServer, id: string): string[] {
  const path = join(s.dir, `${id}.jsonl`);
  const local = readFileSync(path, "utf8");
  rmSync(path);
  return local.split("\n").slice(0, -1);
}

async function read(s: TestServer, path: string) {
  const res = await s.fetch(path);
  const body = (await res.json()) as { logs: string; from: number; next: number; source: string };
  return {
    status: res.status,
    lines: body.logs.split("\n").slice(0, -1),
    from: body.from,
    next: body.next,
    source: body.source,
  };
}

/** The GETs s3rver answered for `key` since the last call, as [range, bytes]; clears the record. */
async function gets(s3: TestS3, key: string): Promise<Array<[string | null, number]>> {
  await s3.settled();
  const out = s3.requests
    .filter((r) => r.method === "GET" && r.path === `/${s3.bucket}/${key}`)
    .map((r): [string | null, number] => [r.range, r.bytes]);
  s3.requests.length = 0;
  return out;
}

const selected = (lines: string[], pred: (o: Record<string, string>) => boolean) =>
  lines.filter((l) => pred(JSON.parse(l) as Record<string, string>));

describe("seeking reads of archived logs", () => {
  test("a tail, a window, a step read from a line and a WebSocket backfill each fetch at most two blocks", async () => {
    await using s3 = await startS3();
    await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
    const view = await archivedJob(s, "big");
    const local = dropLocal(s, "big");
    const index = parseIndex((await s3.getRaw(`${view.key}.idx`))!.bytes);
    const maxBlock = Math.max(...index.blocks.map((b) => b.end - b.start));
    expect(index.blocks.length).toBeGreaterThanOrEqual(4);
    s3.requests.length = 0;

    const tail = await read(s, "/api/jobs/big/logs?tail=100");
    await s3.settled();
    const indexGets = s3.requests.filter((r) => r.path === `/${s3.bucket}/${view.key}.idx`).length;
    const tailGets = await gets(s3, view.key);
    const window = await read(s, "/api/jobs/big/logs?from=13000&limit=100");
    const windowGets = await gets(s3, view.key);
    // Line 13,000 is in "test" (lines 12,000-17,999): only that step's blocks, from the block of line 13,000.
    const step = await read(s, "/api/jobs/big/steps/test/logs?from=13000&limit=50");
    const stepGets = await gets(s3, view.key);
    const ndjson = await (await s.fetch("/api/jobs/big/logs?from=20000&limit=3&format=ndjson")).text();
    const ndjsonGets = await gets(s3, view.key);
    using viewer = watch(s.url, "big", { from: String(LINES - 30) });
    const closed = await viewer.closed;
    const wsGets = await gets(s3, view.key);

    expect({
      tail: {
        ...tail,
        lines: tail.lines.length,
        same: tail.lines.join("\n") === local.slice(-100).join("\n"),
      },
      window: { ...window, same: window.lines.join("\n") === local.slice(13000, 13100).join("\n") },
      step: {
        ...step,
        same:
          step.lines.join("\n") ===
          selected(local.slice(13000), (o) => o.step === "test")
            .slice(0, 50)
            .join("\n"),
      },
      ndjson: ndjson === `${local.slice(20000, 20003).join("\n")}\n`,
      ws: { text: viewer.text() === `${local.slice(-30).join("\n")}\n`, code: closed.code },
      indexGets,
    }).toEqual({
      tail: { status: 200, lines: 100, same: true, from: LINES - 100, next: LINES, source: "archive" },
      window: { status: 200, lines: window.lines, same: true, from: 13000, next: 13100, source: "archive" },
      step: { status: 200, lines: step.lines, same: true, from: 13000, next: 13050, source: "archive" },
      ndjson: true,
      ws: { text: true, code: 1000 },
      // Parsed once, then kept for this upload.
      indexGets: 1,
    });
    // Each read: ranged GETs only, at most two, of at most two blocks' bytes.
    for (const [what, g] of Object.entries({ tailGets, windowGets, stepGets, ndjsonGets, wsGets })) {
      const bytes = g.reduce((a, [, b]) => a + b, 0);
      expect({
        what,
        ranged: g.every(([r]) => r !== null),
        few: g.length >= 1 && g.length <= 2,
        bytes: bytes <= 2 * maxBlock,
      }).toEqual({
        what,
        ranged: true,
        few: true,
        bytes: true,
      });
    }
  });

  test("a step read of the whole log fetches only the blocks that hold the step", async () => {
    await using s3 = await startS3();
    await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
    const view = await archivedJob(s, "steps");
    const local = dropLocal(s, "steps");
    const index = parseIndex((await s3.getRaw(`${view.key}.idx`))!.bytes);
    s3.requests.length = 0;
    const build = await read(s, "/api/jobs/steps/steps/build/logs");
    const fetched = (await gets(s3, view.key)).reduce((a, [, b]) => a + b, 0);
    const stderr = await read(s, "/api/jobs/steps/steps/deploy/logs?stream=stderr&tail=5");
    expect({
      build: build.lines.join("\n") === selected(local, (o) => o.step === "build").join("\n"),
      next: build.next,
      // Exactly the runs of blocks whose step set holds "build", and not all of them.
      part: fetched === stepSpans(index, "build").reduce((a, x) => a + x.end - x.start, 0),
      less: fetched < index.objectBytes - 10_000,
      stderr: stderr.lines,
    }).toEqual({
      build: true,
      next: LINES,
      part: true,
      less: true,
      stderr: selected(local, (o) => o.step === "deploy" && o.stream === "stderr").slice(-5),
    });
  });

  test("a corrupted index falls back to one whole read of the archive and answers the same lines", async () => {
    await using s3 = await startS3();
    await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
    const view = await archivedJob(s, "badidx");
    const local = dropLocal(s, "badidx");
    const idx = (await s3.getRaw(`${view.key}.idx`))!.bytes;
    idx[40] = idx[40]! ^ 1;
    await s3.putRaw(`${view.key}.idx`, idx);
    s3.requests.length = 0;
    const tail = await read(s, "/api/jobs/badidx/logs?tail=3");
    expect({ tail, gets: (await gets(s3, view.key)).map(([r]) => r) }).toEqual({
      tail: { status: 200, lines: local.slice(-3), from: LINES - 3, next: LINES, source: "archive" },
      // The job's line count is known: the tail needs one whole pass, not two.
      gets: [null],
    });
  });

  test("old multi-member archives and Strøm's gzip -6 archives, without an index, read whole and right", async () => {
    await using s3 = await startS3();
    await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
    const old = await archivedJob(s, "old", 8000);
    const strom = await archivedJob(s, "strom", 8000);
    using dir = tempDir();
    // Today's multi-member format (4 MiB members; 64 KiB here to have many) and `gzip -6` of the same bytes.
    const oldPath = join(s.dir, "old.jsonl");
    const parts: Uint8Array[] = [];
    for await (const m of gzipFile(oldPath, Bun.file(oldPath).size, 64 * 1024)) parts.push(m);
    const stromPath = join(s.dir, "strom.jsonl");
    const gz = Bun.spawnSync(["gzip", "-6", "-c", stromPath]);
    expect(gz.exitCode).toBe(0);
    writeFileSync(join(dir.path, "strom.gz"), gz.stdout);
    const oldLines = dropLocal(s, "old");
    const stromLines = dropLocal(s, "strom");
    // The recorded sizes are those of the archives uploaded: an index would not match, a whole read does.
    for (const [v, bytes] of [
      [old, Buffer.concat(parts)],
      [strom, gz.stdout],
    ] as const) {
      await s3.putRaw(v.key, bytes);
      await s3.remove(`${v.key}.idx`);
    }
    const results = [];
    for (const [id, lines] of [
      ["old", oldLines],
      ["strom", stromLines],
    ] as const) {
      const whole = await read(s, `/api/jobs/${id}/logs`);
      const window = await read(s, `/api/jobs/${id}/logs?from=5000&limit=10`);
      const tail = await read(s, `/api/jobs/${id}/steps/build/logs?tail=2`);
      results.push({
        whole: whole.lines.join("\n") === lines.join("\n"),
        window: window.lines,
        tail: tail.lines,
      });
    }
    expect(results).toEqual([
      {
        whole: true,
        window: oldLines.slice(5000, 5010),
        tail: selected(oldLines, (o) => o.step === "build").slice(-2),
      },
      {
        whole: true,
        window: stromLines.slice(5000, 5010),
        tail: selected(stromLines, (o) => o.step === "build").slice(-2),
      },
    ]);
  });

  test("an archive is one gzip member: gzip -d, zcat, Python's gzip, the AWS CLI + gunzip and Bun.gunzipSync read it whole", async () => {
    await using s3 = await startS3();
    await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
    const view = await archivedJob(s, "readers", 12_000);
    const local = readFileSync(join(s.dir, "readers.jsonl"));
    const raw = (await s3.getRaw(view.key))!.bytes;
    using dir = tempDir();
    const file = join(dir.path, "a.jsonl.gz");
    writeFileSync(file, raw);
    const run = async (cmd: string[], env: Record<string, string> = {}) => {
      const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
      const [out, err, code] = await Promise.all([
        new Response(p.stdout).arrayBuffer(),
        new Response(p.stderr).text(),
        p.exited,
      ]);
      return { same: Buffer.from(out).equals(local), stderr: err, code };
    };
    const ok = { same: true, stderr: "", code: 0 };
    const aws = `aws --endpoint-url ${s3.endpoint} --region us-east-1 s3 cp s3://${s3.bucket}/${view.key} - | gunzip`;
    expect({
      gzip: await run(["gzip", "-d", "-c", file]),
      zcat: await run(["zcat", file]),
      python: await run([
        "python3",
        "-c",
        "import gzip,sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())",
        file,
      ]),
      // One member: a decoder that stops after the first member still sees the whole log.
      oneMember: await run([
        "python3",
        "-c",
        "import zlib,sys; d=zlib.decompressobj(31); sys.stdout.buffer.write(d.decompress(open(sys.argv[1],'rb').read())); assert d.eof and not d.unused_data",
        file,
      ]),
      aws: await run(["bash", "-c", aws], { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" }),
      bun: Buffer.from(Bun.gunzipSync(raw)).equals(local),
    }).toEqual({ gzip: ok, zcat: ok, python: ok, oneMember: ok, aws: ok, bun: true });
  });

  test("a store that ignores Range and answers whole objects still serves the exact lines asked for", async () => {
    await using s3 = await startS3();
    let ignored = 0;
    // A real HTTP proxy in front of s3rver that answers every ranged GET with the whole object (200, no
    // Content-Range), as some S3-compatible stores and caches do.
    using proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        const ranged = req.method === "GET" && req.headers.has("range");
        if (ranged) ignored++;
        const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
        const headers = new Headers(req.headers);
        // s3rver answers unsigned GETs: the whole object, without the (signed) Range header.
        if (ranged) for (const h of ["range", "authorization", "if-match"]) headers.delete(h);
        const res = await fetch(`${s3.endpoint}${url.pathname}${url.search}`, {
          method: req.method,
          headers,
          ...(body === undefined ? {} : { body }),
          decompress: false,
        });
        return new Response(res.body, { status: res.status, headers: res.headers });
      },
    });
    await using s = await startTestServer({
      log_storage: { archive: { ...s3.archive(), endpoint: `http://127.0.0.1:${proxy.port}` } },
    });
    await archivedJob(s, "norange", 12_000);
    const local = dropLocal(s, "norange");
    const window = await read(s, "/api/jobs/norange/logs?from=9000&limit=4");
    const tail = await read(s, "/api/jobs/norange/logs?tail=2");
    expect({ window: window.lines, tail: tail.lines, ignored: ignored >= 3 }).toEqual({
      window: local.slice(9000, 9004),
      tail: local.slice(-2),
      ignored: true,
    });
  });

  test("a local-directory archive is read with ranges too", async () => {
    using root = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: root.path, prefix: "" } },
    });
    await archivedJob(s, "loc", 8000);
    const local = dropLocal(s, "loc");
    const window = await read(s, "/api/jobs/loc/logs?from=7000&limit=5");
    const tail = await read(s, "/api/jobs/loc/steps/build/logs?tail=1");
    expect({ window: window.lines, tail: tail.lines, source: window.source }).toEqual({
      window: local.slice(7000, 7005),
      tail: local.slice(-1),
      source: "archive",
    });
  });
});
