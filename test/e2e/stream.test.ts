// The live stream against the real server and real WebSocket clients: backfill, live, seam, filters, end of stream.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeLines, startTestServer, type TestServer } from "../support/server.ts";
import { watch, within } from "../support/ws.ts";

const TS = "2025-02-12T10:56:45.123Z";
const line = (step: string, text: string, stream = "stdout") =>
  `{"ts":"${TS}","stream":"${stream}","step":"${step}","line":"${text}"}\n`;

async function push(s: TestServer, job: string, step: string, lines: ReturnType<typeof makeLines>) {
  const res = await s.post(`/worker/jobs/${job}/logs`, { step_name: step, lines });
  if (!res.ok) throw new Error(`push failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { first: number; next: number };
}

const complete = (s: TestServer, job: string, status: string) =>
  s.post(`/worker/jobs/${job}/complete`, { status });

const fileOf = (s: TestServer, job: string) => Bun.file(join(s.dir, `${job}.jsonl`)).text();

describe("live stream", () => {
  test("existing lines are sent as backfill, in frames of complete lines", async () => {
    await using s = await startTestServer();
    await push(s, "j", "build", makeLines(3));
    using v = watch(s.url, "j");
    await v.waitLines(3);
    expect(v.text()).toBe(line("build", "line-0") + line("build", "line-1") + line("build", "line-2"));
    expect(v.frames.every((f) => f.endsWith("\n"))).toBe(true);
  });

  test("lines pushed after connect arrive live, server events included; client messages are ignored", async () => {
    await using s = await startTestServer();
    using v = watch(s.url, "fresh"); // the job does not exist yet: the socket opens and waits
    await v.opened;
    v.ws.send("client messages are ignored");
    await push(s, "fresh", "build", makeLines(2));
    await v.waitLines(2);
    await s.post("/api/jobs/fresh/events", { message: "orchestrator says hi" });
    await v.waitLines(3);
    const [a, b, event] = v.text().split("\n");
    expect([a, b, JSON.parse(event!).step, JSON.parse(event!).line]).toEqual([
      line("build", "line-0").trimEnd(),
      line("build", "line-1").trimEnd(),
      "_server",
      "orchestrator says hi",
    ]);
  });

  test("backfill then live lines follow each other without gap or duplicate", async () => {
    await using s = await startTestServer();
    await push(s, "j", "build", makeLines(5, "old"));
    using v = watch(s.url, "j");
    await v.waitLines(5);
    await push(s, "j", "build", makeLines(5, "new"));
    await v.waitLines(10);
    expect(v.text()).toBe(await fileOf(s, "j"));
  });

  test("a from beyond the current end waits for that line, also inside a pushed batch", async () => {
    await using s = await startTestServer();
    using ahead = watch(s.url, "later", { from: "5" }); // the job does not exist yet
    using further = watch(s.url, "later", { from: "20" });
    await Promise.all([ahead.opened, further.opened]);
    await push(s, "later", "build", makeLines(10)); // lines 0-9: the first viewer needs 5-9 of it
    await ahead.waitLines(5);
    await push(s, "later", "build", makeLines(15, "line", "stdout", 10)); // lines 10-24
    await Promise.all([ahead.waitLines(20), further.waitLines(5)]);
    await complete(s, "later", "completed");
    await within("closes", Promise.all([ahead.closed, further.closed]));
    const file = (await fileOf(s, "later")).split("\n");
    expect([ahead.text(), further.text()]).toEqual([
      `${file.slice(5, 25).join("\n")}\n`,
      `${file.slice(20, 25).join("\n")}\n`,
    ]);
  });

  test("skip_backfill=true suppresses the existing lines and sends only new ones", async () => {
    await using s = await startTestServer();
    await push(s, "j", "build", makeLines(5, "old"));
    using v = watch(s.url, "j", { skip_backfill: "true" });
    await v.opened;
    await push(s, "j", "build", makeLines(2, "new"));
    await v.waitLines(2);
    await complete(s, "j", "completed");
    expect(await within("close", v.closed)).toEqual({ code: 1000, reason: "job completed", lines: 2 });
    expect(v.text()).toBe(line("build", "new-0") + line("build", "new-1"));
  });

  test("step and stream filters send only the matching lines, backfill and live", async () => {
    await using s = await startTestServer();
    await push(s, "j", "build", makeLines(2, "b"));
    await push(s, "j", "build-notify", makeLines(1, "n"));
    await push(s, "j", "test", makeLines(1, "t-err", "stderr"));
    using byStep = watch(s.url, "j", { step: "build" });
    using byStream = watch(s.url, "j", { stream: "stderr" });
    using both = watch(s.url, "j", { step: "test", stream: "stdout" });
    await Promise.all([byStep.waitLines(2), byStream.waitLines(1), both.opened]);
    await push(s, "j", "build", makeLines(1, "b", "stderr", 2));
    await push(s, "j", "test", makeLines(1, "t-out"));
    await complete(s, "j", "failed");
    const ends = await within("closes", Promise.all([byStep.closed, byStream.closed, both.closed]));
    expect({
      ends,
      byStep: byStep.text(),
      byStream: byStream.text(),
      both: both.text(),
    }).toEqual({
      ends: [
        { code: 1000, reason: "job failed", lines: 3 },
        { code: 1000, reason: "job failed", lines: 2 },
        { code: 1000, reason: "job failed", lines: 1 },
      ],
      byStep: line("build", "b-0") + line("build", "b-1") + line("build", "b-2", "stderr"),
      byStream: line("test", "t-err-0", "stderr") + line("build", "b-2", "stderr"),
      both: line("test", "t-out-0"),
    });
  });

  test("a settled job streams its whole log, then closes with 1000 and its status", async () => {
    await using s = await startTestServer();
    await push(s, "j", "build", makeLines(100));
    await complete(s, "j", "cancelled");
    await s.fetch("/api/jobs/j"); // settling is immediate without hooks
    using v = watch(s.url, "j");
    expect(await within("close", v.closed)).toEqual({ code: 1000, reason: "job cancelled", lines: 100 });
    expect(v.text()).toBe(await fileOf(s, "j"));
    using atEnd = watch(s.url, "j", { from: "100" });
    expect(await within("close", atEnd.closed)).toEqual({ code: 1000, reason: "job cancelled", lines: 0 });
  });

  test("the stream closes with 'job completed' only after every line was sent", async () => {
    await using s = await startTestServer();
    using v = watch(s.url, "j");
    await v.opened;
    await push(s, "j", "build", makeLines(3000));
    await complete(s, "j", "completed");
    expect(await within("close", v.closed)).toEqual({ code: 1000, reason: "job completed", lines: 3000 });
    expect(v.text()).toBe(await fileOf(s, "j"));
  });

  test("the stream stays open while the job's hooks run and carries their failure event before closing", async () => {
    const hookCalled = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    using receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch() {
        hookCalled.resolve();
        await release.promise;
        return new Response("no", { status: 500 });
      },
    });
    await using s = await startTestServer({
      hooks: [{ url: `http://127.0.0.1:${receiver.port}/hook`, retries: 0 }],
    });
    await push(s, "j", "build", makeLines(2));
    using v = watch(s.url, "j");
    await v.waitLines(2);
    await complete(s, "j", "failed");
    await within("the hook call", hookCalled.promise);
    const openWhileHookRuns = v.ws.readyState === WebSocket.OPEN;
    release.resolve();
    const end = await within("close", v.closed);
    const last = JSON.parse(v.text().trimEnd().split("\n").at(-1)!) as { step: string; stream: string };
    expect({ openWhileHookRuns, end, last: [last.step, last.stream] }).toEqual({
      openWhileHookRuns: true,
      end: { code: 1000, reason: "job failed", lines: 3 },
      last: ["_server", "stderr"],
    });
  });

  test("a large backfill is sent in frames no larger than max_frame_bytes", async () => {
    await using s = await startTestServer({ stream: { max_frame_bytes: 4096 } });
    await push(s, "j", "build", makeLines(2000));
    await complete(s, "j", "completed");
    using v = watch(s.url, "j");
    await within("close", v.closed);
    const sizes = v.frames.map((f) => Buffer.byteLength(f));
    expect(v.text()).toBe(await fileOf(s, "j"));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096 + 100);
    expect(v.frames.length).toBeGreaterThan((2000 * 80) / 4096);
  });

  test("a legacy .log job is streamed from its plain text", async () => {
    await using s = await startTestServer();
    writeFileSync(join(s.dir, "old.log"), "first\nsecond\n");
    using v = watch(s.url, "old");
    await v.waitLines(2);
    expect(v.text()).toBe("first\nsecond\n");
  });

  test("from=N resumes after a dropped connection with no line lost or repeated", async () => {
    await using s = await startTestServer({ stream: { max_frame_bytes: 2048 } });
    await push(s, "j", "build", makeLines(1000, "a"));
    const first = watch(s.url, "j");
    // Drop the connection from inside the stream, after the first frames: the rest is in flight.
    first.ws.addEventListener("message", () => {
      if (first.lines() >= 100 && first.ws.readyState === WebSocket.OPEN) first.ws.close();
    });
    const { lines: got } = await within("close", first.closed);
    expect(got).toBeGreaterThanOrEqual(100);
    expect(got).toBeLessThan(1000);
    await push(s, "j", "build", makeLines(500, "b"));
    using second = watch(s.url, "j", { from: String(got) });
    await second.waitLines(1500 - got);
    await complete(s, "j", "completed");
    expect(await within("close", second.closed)).toEqual({
      code: 1000,
      reason: "job completed",
      lines: 1500 - got,
    });
    expect(first.text() + second.text()).toBe(await fileOf(s, "j"));
  });

  test("exactly once across the seam: viewers joining while 100,000 lines are pushed in small batches", async () => {
    await using s = await startTestServer({ stream: { max_frame_bytes: 16 * 1024 } });
    const total = 100_000;
    const batch = 50;
    const viewers: ReturnType<typeof watch>[] = [];
    // Viewers connect at 12 points of the run.
    const joinAt = new Set(Array.from({ length: 12 }, (_, i) => Math.floor((i * total) / batch / 12)));
    // Four writers, so appends land while backfill reads are in flight and between their frames.
    const writers = 4;
    const writer = async (w: number) => {
      for (let b = w; b < total / batch; b += writers) {
        if (joinAt.has(b)) viewers.push(watch(s.url, "seam"));
        await push(s, "seam", w % 2 ? "odd" : "even", makeLines(batch, `w${w}`, "stdout", b * batch));
      }
    };
    const filtered = watch(s.url, "seam", { step: "odd" });
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    await complete(s, "seam", "completed");
    const ends = await within(
      "all streams end",
      Promise.all([...viewers, filtered].map((v) => v.closed)),
      30_000,
    );
    const file = await fileOf(s, "seam");
    const oddOnly = file
      .split("\n")
      .filter((l) => l.includes('"step":"odd"'))
      .map((l) => `${l}\n`)
      .join("");
    expect({
      ends: ends.map((e) => [e.code, e.reason, e.lines]),
      equal: viewers.map((v) => v.text() === file),
      filtered: filtered.text() === oddOnly,
    }).toEqual({
      ends: [...viewers.map(() => [1000, "job completed", total]), [1000, "job completed", total / 2]],
      equal: viewers.map(() => true),
      filtered: true,
    });
  }, 60_000);

  test("a graceful shutdown closes viewers with 1001 at once instead of waiting out shutdown_timeout", async () => {
    // A shutdown_timeout far beyond the bound below: the close must not wait for it, and a busy machine's
    // seconds of delay cannot be mistaken for it.
    await using s = await startTestServer({ server: { shutdown_timeout: "10m" } });
    await push(s, "j", "build", makeLines(3));
    using v = watch(s.url, "j");
    await v.waitLines(3);
    const started = Date.now();
    await within("the graceful stop", s.stop(), 30_000);
    const end = await within("close", v.closed);
    expect({ end, quick: Date.now() - started < 30_000 }).toEqual({
      end: { code: 1001, reason: "server shutting down", lines: 3 },
      quick: true,
    });
  });

  test("viewers past limits.max_streams_per_job or limits.max_streams get a 503 with Retry-After", async () => {
    await using s = await startTestServer({ limits: { max_streams_per_job: 2, max_streams: 3 } });
    const upgrade = {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    };
    const refused = async (job: string) => {
      const res = await s.fetch(`/api/jobs/${job}/logs/stream`, { headers: upgrade });
      return [res.status, res.headers.get("retry-after"), await res.json()];
    };
    using a1 = watch(s.url, "a");
    using a2 = watch(s.url, "a");
    await Promise.all([a1.opened, a2.opened]);
    const perJob = await refused("a");
    using b1 = watch(s.url, "b");
    await b1.opened;
    const total = await refused("c");
    a1.ws.close();
    await within("close", a1.closed);
    using a3 = watch(s.url, "a"); // a place was freed
    await a3.opened;
    expect([perJob, total]).toEqual([
      [
        503,
        "5",
        {
          error: "job a already has 2 live viewers (limits.max_streams_per_job 2)",
          code: "too_many_streams",
        },
      ],
      [
        503,
        "5",
        { error: "the server already has 3 live viewers (limits.max_streams 3)", code: "too_many_streams" },
      ],
    ]);
  });

  test("invalid parameters are a 400 before the upgrade; a plain GET is a 426", async () => {
    await using s = await startTestServer();
    const ws = {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    };
    const answers = [];
    for (const path of [
      "/api/jobs/j/logs/stream?from=-1",
      "/api/jobs/j/logs/stream?skip_backfill=yes",
      "/api/jobs/j/logs/stream?stream=both",
      "/api/jobs/j/logs/stream?from=3&skip_backfill=true",
      "/api/jobs/..%2Fetc/logs/stream",
    ]) {
      const res = await s.fetch(path, { headers: ws });
      answers.push([res.status, await res.json()]);
    }
    const plain = await s.fetch("/api/jobs/j/logs/stream");
    answers.push([plain.status, await plain.json()]);
    expect(answers).toEqual([
      [400, { error: 'from: expected a non-negative integer (got "-1")', code: "invalid_query" }],
      [400, { error: 'skip_backfill: expected true or false (got "yes")', code: "invalid_query" }],
      [400, { error: 'stream: expected "stdout" or "stderr" (got "both")', code: "invalid_query" }],
      [
        400,
        {
          error: "from and skip_backfill=true cannot be combined: skip_backfill starts at the current end",
          code: "invalid_query",
        },
      ],
      [400, { error: expect.stringContaining("invalid job id"), code: "invalid_job_id" }],
      [
        426,
        {
          error: "GET /api/jobs/j/logs/stream is a WebSocket: send Upgrade: websocket",
          code: "upgrade_required",
        },
      ],
    ]);
  });
});
