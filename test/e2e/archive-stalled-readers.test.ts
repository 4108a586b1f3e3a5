// 200 readers of an archived log that never read: archives still land, other archived reads answer, readiness holds.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { createConnection } from "node:net";
import { gunzipSync } from "node:zlib";
import { type ServerProcess, spawnServer } from "../support/process.ts";
import { startS3 } from "../support/s3.ts";
import { makeLines } from "../support/server.ts";
import { DEADLINE_MS, waitFor } from "../support/wait.ts";
import { within } from "../support/ws.ts";

type JobView = {
  bytes: number;
  archive: { state: string; key: string; bytes: number; log_bytes: number; local_deleted: boolean } | null;
};

const WS_READERS = 150;
const HTTP_READERS = 50;

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** Waits until the job's archive is verified, covers every byte, and its local file is gone. */
function archived(p: ServerProcess, id: string, timeoutMs: number) {
  return waitFor(
    `the archive of ${id}`,
    async () => {
      const j = (await (await fetch(`${p.url}/api/jobs/${id}`)).json()) as JobView;
      const a = j.archive;
      return a?.state === "uploaded" && a.log_bytes === j.bytes && a.local_deleted ? j : undefined;
    },
    timeoutMs,
  );
}

/**
 * ~`mb` MB of build-like lines (gzip ~10x): each stalled reader takes its few MB of socket buffers cheaply, while
 * the compressed object stays far larger than what a stalled read pulls of it, so its GET stays open.
 */
async function bigJob(url: string, id: string, mb: number): Promise<void> {
  let n = 0;
  let size = 0;
  while (size < mb * 1024 * 1024) {
    const lines = Array.from({ length: 5000 }, (_, i) => ({
      ts: "2025-02-12T10:56:45.123Z",
      stream: "stdout",
      line: `[${n + i}] compiling src/module_${(n + i) % 997}.ts ${randomBytes(6).toString("hex")} ok ${"-".repeat(64)}`,
    }));
    expect((await post(url, `/worker/jobs/${id}/logs`, { step_name: "build", lines })).status).toBe(200);
    n += lines.length;
    size += lines.length * 180;
  }
  expect((await post(url, `/worker/jobs/${id}/complete`, { status: "completed" })).status).toBe(200);
}

/** A stalled reader: `refused` says why it got no first bytes within the deadline. */
type Stalled = { refused?: string; close(): void };

/** Resolves with the first answer, or with a refusal once `ms` passed without one. */
function firstOf(p: Promise<string | undefined>, ms: number): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<string>((r) => {
    timer = setTimeout(() => r(`no first bytes within ${ms} ms`), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** A WebSocket viewer that takes its first frame and then never reads again, until `resume()`. */
async function stalledViewer(url: string, id: string, ms: number) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/jobs/${id}/logs/stream`);
  const frames: string[] = [];
  const first = Promise.withResolvers<string | undefined>();
  const closed = Promise.withResolvers<string>();
  ws.addEventListener("message", (e) => {
    if (frames.length === 0) ws.pause();
    frames.push(e.data as string);
    first.resolve(undefined);
  });
  ws.addEventListener("close", (e) => {
    first.resolve(`closed ${e.code} ${e.reason}`);
    closed.resolve(`${e.code} ${e.reason}`);
  });
  const refused = await firstOf(first.promise, ms);
  return {
    ...(refused === undefined ? {} : { refused }),
    close: () => ws.close(),
    /** Reads on to the end: the close and everything received. */
    async resume(): Promise<{ close: string; text: string }> {
      ws.resume();
      const close = await whileMoving(`the resumed viewer to finish`, closed.promise, () => frames.length);
      return { close, text: frames.join("") };
    },
  };
}

/**
 * Waits for `p` as long as `progress()` keeps changing: fails only after DEADLINE_MS without progress (a hang),
 * not after a fixed total, which a slow but moving read on a busy machine would exceed.
 */
function whileMoving<T>(what: string, p: Promise<T>, progress: () => number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    let seen = progress();
    const check = () => {
      const now = progress();
      if (now === seen)
        reject(new Error(`no progress for ${DEADLINE_MS} ms waiting for ${what} (at ${now})`));
      else {
        seen = now;
        timer = setTimeout(check, DEADLINE_MS);
      }
    };
    timer = setTimeout(check, DEADLINE_MS);
  });
  return Promise.race([p, stalled]).finally(() => clearTimeout(timer));
}

/** An HTTP client that sends a streamed read, takes the first bytes of the answer and never reads again. */
async function stalledHttpReader(url: string, path: string, ms: number): Promise<Stalled> {
  const { hostname, port } = new URL(url);
  const sock = createConnection(Number(port), hostname);
  const first = Promise.withResolvers<string | undefined>();
  sock.once("data", (d: Buffer) => {
    sock.pause();
    const status = d.toString("latin1").split("\r\n")[0]!;
    first.resolve(status === "HTTP/1.1 200 OK" ? undefined : status);
  });
  sock.on("error", (e) => first.resolve(e.message));
  sock.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAccept: application/x-ndjson\r\n\r\n`);
  const refused = await firstOf(first.promise, ms);
  return { ...(refused === undefined ? {} : { refused }), close: () => sock.destroy() };
}

type Stats = { archive: { problem: unknown; reads?: Record<string, number> } };
const stats = async (p: ServerProcess) => (await (await fetch(`${p.url}/api/stats`)).json()) as Stats;

describe("stalled readers of archived logs", () => {
  test(`${WS_READERS} WebSocket viewers and ${HTTP_READERS} HTTP readers that never read: archives land on time, other archived reads answer, readiness stays true, a stalled viewer resumes whole`, async () => {
    await using s3 = await startS3();
    await using p = await spawnServer({
      log_storage: {
        archive: s3.archive(),
        delete_local_after_archive: true,
        archive_retry: { initial: "100ms", max: "500ms" },
      },
      limits: { max_streams_per_job: 1000 },
      // Each stalled viewer holds up to a frame and its socket buffers (~1 MB); 150 of them can pass half the
      // default 256 MiB budget, and the budget then closes the viewer stalled longest — the one this test
      // resumes. The budget has its own tests (stream-budget); here it must stay out of the way.
      stream: { max_buffered_bytes: "2GiB" },
    });
    await bigJob(p.url, "big", 24);
    for (const id of ["other-0", "other-1"]) {
      expect(
        (await post(p.url, `/worker/jobs/${id}/logs`, { step_name: "b", lines: makeLines(300, id) })).status,
      ).toBe(200);
      expect((await post(p.url, `/worker/jobs/${id}/complete`, { status: "completed" })).status).toBe(200);
    }
    const [big] = await Promise.all(["big", "other-0", "other-1"].map((id) => archived(p, id, 60_000)));
    const bigLog = gunzipSync((await s3.getRaw(big!.archive!.key))!.bytes).toString();
    const otherText = makeLines(300, "other-0")
      .map((l) => JSON.stringify({ ts: l.ts, stream: l.stream, step: "b", line: l.line }))
      .join("\n");

    // Readiness is asked throughout; it must never say the archive is unreachable.
    const readiness = new Set<string>();
    let asking = true;
    const asker = (async () => {
      while (asking) {
        readiness.add(JSON.stringify(await (await fetch(`${p.url}/readyz`)).json()));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const viewers: Array<Awaited<ReturnType<typeof stalledViewer>>> = [];
    const readers: Stalled[] = [];
    try {
      // All at once, as a crowd opening one job would; each gets a bounded time to start.
      const started = performance.now();
      const [v, r] = await Promise.all([
        Promise.all(Array.from({ length: WS_READERS }, () => stalledViewer(p.url, "big", 120_000))),
        Promise.all(
          Array.from({ length: HTTP_READERS }, () =>
            stalledHttpReader(p.url, "/api/jobs/big/logs?format=ndjson", 120_000),
          ),
        ),
      ]);
      viewers.push(...v);
      readers.push(...r);
      const openedMs = performance.now() - started;

      // Jobs complete while every reader is stalled: each is archived (verified, local file removed) on time.
      const completing = performance.now();
      const fresh = Array.from({ length: 5 }, (_, i) => `fresh-${i}`);
      for (const id of fresh) {
        expect(
          (await post(p.url, `/worker/jobs/${id}/logs`, { step_name: "b", lines: makeLines(200, id) }))
            .status,
        ).toBe(200);
        expect((await post(p.url, `/worker/jobs/${id}/complete`, { status: "completed" })).status).toBe(200);
      }
      await Promise.all(fresh.map((id) => archived(p, id, 20_000)));
      const archivedMs = performance.now() - completing;

      // Other archived jobs are read (from the archive) while the stalled readers stay.
      const reads = await Promise.all(
        ["other-0", "other-1", "other-0"].map(async (id) => {
          const res = await within(`a read of ${id}`, fetch(`${p.url}/api/jobs/${id}/logs`), 20_000);
          const body = (await res.json()) as { source?: string; logs?: string; error?: string };
          return {
            status: res.status,
            source: body.source,
            lines: body.logs?.split("\n").length ?? body.error,
          };
        }),
      );
      const tail = (await (await fetch(`${p.url}/api/jobs/other-0/logs?tail=1`)).json()) as { logs: string };
      const during = await stats(p);

      // A stalled viewer lost its GET long ago; reading again, it gets the rest through a ranged GET, no gap.
      const resumed = await viewers[0]!.resume();
      asking = false;
      await asker;
      const after = await stats(p);
      console.log(
        `stalled readers: ${WS_READERS} WebSocket + ${HTTP_READERS} HTTP of a ${(bigLog.length / 1e6).toFixed(0)} MB log (${(big!.archive!.bytes / 1e6).toFixed(1)} MB gzip) started in ${Math.round(openedMs)} ms; 5 archives landed in ${Math.round(archivedMs)} ms; reads ${JSON.stringify(after.archive.reads)}`,
      );
      expect({
        refused: [
          ...new Set(
            [...viewers, ...readers].flatMap((x) =>
              x.refused === undefined ? [] : [x.refused.slice(0, 160)],
            ),
          ),
        ],
        reads,
        tail: tail.logs,
        readiness: [...readiness],
        problem: during.archive.problem,
        dropped: (during.archive.reads?.dropped ?? 0) >= WS_READERS,
        resumed: {
          close: resumed.close,
          whole: resumed.text === bigLog,
          ranged: (after.archive.reads?.resumed ?? 0) >= 1,
        },
      }).toEqual({
        refused: [],
        reads: [
          { status: 200, source: "archive", lines: 301 },
          { status: 200, source: "archive", lines: 301 },
          { status: 200, source: "archive", lines: 301 },
        ],
        tail: `${otherText.split("\n").at(-1)}\n`,
        readiness: [JSON.stringify({ status: "ready" })],
        problem: null,
        dropped: true,
        resumed: { close: "1000 job completed", whole: true, ranged: true },
      });
    } finally {
      asking = false;
      for (const x of [...viewers, ...readers]) x.close();
    }
  }, 300_000);
});
