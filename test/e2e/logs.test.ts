// Strøm's log-storage behaviours, ported, against the real server: append, read back, filters, fallback.
import { describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeLines, parseJsonl, startTestServer } from "../support/server.ts";

const TS = "2025-02-12T10:56:45.123Z";

describe("logs", () => {
  test("pushed lines are appended and read back exactly as stored", async () => {
    await using s = await startTestServer();
    const push = await s.post("/worker/jobs/job-1/logs", {
      step_name: "say-hello",
      lines: [
        { ts: TS, stream: "stdout", line: "Hello World" },
        { ts: TS, stream: "stderr", line: "warning: x" },
      ],
    });
    expect(await push.json()).toEqual({ status: "ok", first: 0, next: 2 });
    const file = await Bun.file(join(s.dir, "job-1.jsonl")).text();
    expect(file).toBe(
      `{"ts":"${TS}","stream":"stdout","step":"say-hello","line":"Hello World"}\n` +
        `{"ts":"${TS}","stream":"stderr","step":"say-hello","line":"warning: x"}\n`,
    );
    const read = await s.fetch("/api/jobs/job-1/logs");
    expect(await read.json()).toEqual({
      logs: file,
      from: 0,
      next: 2,
      source: "local",
      complete: false,
      truncated: false,
    });
  });

  test("a line without ts gets the server's time", async () => {
    await using s = await startTestServer();
    const before = Date.now();
    await s.post("/worker/jobs/j/logs", { step_name: "a", lines: [{ stream: "stdout", line: "x" }] });
    const [line] = parseJsonl(((await (await s.fetch("/api/jobs/j/logs")).json()) as { logs: string }).logs);
    const ts = Date.parse(line!.ts!);
    expect(line!.ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(ts >= before - 1 && ts <= Date.now()).toBe(true);
  });

  test("a job with nothing stored, registered or not, reads as an empty 200 in every form; a bad id is a 400", async () => {
    await using s = await startTestServer();
    const empty = { logs: "", from: 0, next: 0, source: "none", complete: false, truncated: false };
    const answer = async (path: string, init?: RequestInit) => {
      const r = await s.fetch(path, init);
      return [r.status, r.headers.get("x-stroem-source"), await r.text()];
    };
    expect(
      await Promise.all([
        answer("/api/jobs/nope/logs"),
        answer("/api/jobs/nope/steps/build/logs"),
        answer("/api/jobs/nope/logs?format=ndjson"),
        answer("/api/jobs/nope/logs?format=ndjson", { method: "HEAD" }),
        answer("/api/jobs/nope/logs?tail=5"),
        answer("/api/jobs/-nope/logs"),
      ]),
    ).toEqual([
      [200, null, JSON.stringify(empty)],
      [200, null, JSON.stringify(empty)],
      [200, "none", ""],
      [200, "none", ""],
      [200, null, JSON.stringify(empty)],
      [400, null, expect.stringContaining('"code":"invalid_job_id"')],
    ]);
    await s.fetch("/api/jobs/empty", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspace: "w", task: "t" }),
    });
    expect(await (await s.fetch("/api/jobs/empty/logs")).json()).toEqual({
      logs: "",
      from: 0,
      next: 0,
      source: "none",
      complete: false,
      truncated: false,
    });
  });

  test("many jobs are isolated from each other", async () => {
    await using s = await startTestServer();
    for (const id of ["a", "b", "c"]) {
      await s.post(`/worker/jobs/${id}/logs`, { step_name: "s", lines: makeLines(3, id) });
    }
    for (const id of ["a", "b", "c"]) {
      const { logs } = (await (await s.fetch(`/api/jobs/${id}/logs`)).json()) as { logs: string };
      expect(parseJsonl(logs).map((l) => l.line)).toEqual([`${id}-0`, `${id}-1`, `${id}-2`]);
    }
  });

  test("the step filter is exact and returns stdout and stderr of that step in order", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", {
      step_name: "build",
      lines: [{ ts: TS, stream: "stdout", line: "b1" }],
    });
    await s.post("/worker/jobs/j/logs", {
      step_name: "build-notify",
      lines: [{ ts: TS, stream: "stdout", line: "n1" }],
    });
    await s.post("/worker/jobs/j/logs", {
      step_name: "build",
      lines: [
        { ts: TS, stream: "stderr", line: "b2" },
        { ts: TS, stream: "stdout", line: "b3" },
      ],
    });
    await s.post("/worker/jobs/j/logs", {
      step_name: "test",
      lines: [{ ts: TS, stream: "stdout", line: '"step":"build"' }],
    });
    const body = (await (await s.fetch("/api/jobs/j/steps/build/logs")).json()) as {
      logs: string;
      next: number;
    };
    expect(parseJsonl(body.logs).map((l) => [l.step, l.stream, l.line])).toEqual([
      ["build", "stdout", "b1"],
      ["build", "stderr", "b2"],
      ["build", "stdout", "b3"],
    ]);
    expect(body.next).toBe(5);
    const stderr = (await (await s.fetch("/api/jobs/j/steps/build/logs?stream=stderr")).json()) as {
      logs: string;
    };
    expect(parseJsonl(stderr.logs).map((l) => l.line)).toEqual(["b2"]);
  });

  test("a step name is percent-decoded from the path", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "deploy/eu west", lines: makeLines(1, "d") });
    const body = (await (await s.fetch("/api/jobs/j/steps/deploy%2Feu%20west/logs")).json()) as {
      logs: string;
    };
    expect(parseJsonl(body.logs).map((l) => l.line)).toEqual(["d-0"]);
  });

  test("non-JSON lines in a log never match a step", async () => {
    await using s = await startTestServer();
    writeFileSync(
      join(s.dir, "mixed.jsonl"),
      `not json "step":"build"\n{"ts":"${TS}","stream":"stdout","step":"build","line":"ok"}\n{"step":"build"\n`,
    );
    const body = (await (await s.fetch("/api/jobs/mixed/steps/build/logs")).json()) as {
      logs: string;
      source: string;
    };
    expect([body.source, parseJsonl(body.logs).map((l) => l.line)]).toEqual(["local", ["ok"]]);
  });

  test("a legacy .log is served verbatim, its step filter matches nothing, and .jsonl is preferred over it", async () => {
    await using s = await startTestServer();
    writeFileSync(join(s.dir, "old.log"), "line one\nline two\n");
    expect(await (await s.fetch("/api/jobs/old/logs")).json()).toEqual({
      logs: "line one\nline two\n",
      from: 0,
      next: 2,
      source: "legacy",
      complete: false,
      truncated: false,
    });
    expect(((await (await s.fetch("/api/jobs/old/steps/build/logs")).json()) as { logs: string }).logs).toBe(
      "",
    );
    expect(((await (await s.fetch("/api/jobs/old/logs?tail=1")).json()) as { logs: string }).logs).toBe(
      "line two\n",
    );
    writeFileSync(join(s.dir, "both.log"), "legacy\n");
    await s.post("/worker/jobs/both/logs", { step_name: "s", lines: makeLines(1, "new") });
    const both = (await (await s.fetch("/api/jobs/both/logs")).json()) as { logs: string; source: string };
    expect([both.source, parseJsonl(both.logs).map((l) => l.line)]).toEqual(["local", ["new-0"]]);
  });

  test("the log directory is created on the first write, even when removed while the server runs", async () => {
    await using s = await startTestServer();
    const logs = join(s.dir, "deeper", "logs");
    await using t = await startTestServer(
      { log_storage: { local_dir: logs, db_path: join(s.dir, "t.db") } },
      { dir: logs },
    );
    rmSync(join(s.dir, "deeper"), { recursive: true });
    const r = await t.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1) });
    expect(r.status).toBe(200);
    expect(existsSync(join(logs, "j.jsonl"))).toBe(true);
  });

  test("20 concurrent writers of 100 lines each to one job give 2,000 intact lines, each batch contiguous", async () => {
    await using s = await startTestServer();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, w) =>
        s
          .post("/worker/jobs/busy/logs", { step_name: `w${w}`, lines: makeLines(100, `w${w}`) })
          .then((r) => r.json()),
      ),
    );
    const text = await Bun.file(join(s.dir, "busy.jsonl")).text();
    const lines = parseJsonl(text);
    expect(lines.length).toBe(2000);
    for (const [w, r] of results.entries()) {
      const { first, next } = r as { first: number; next: number };
      expect(next - first).toBe(100);
      expect(lines.slice(first, next).map((l) => l.line)).toEqual(makeLines(100, `w${w}`).map((l) => l.line));
    }
    const job = (await (await s.fetch("/api/jobs/busy")).json()) as { lines: number; bytes: number };
    expect([job.lines, job.bytes]).toEqual([2000, Buffer.byteLength(text)]);
  });

  test("20 jobs written in parallel each hold exactly their own lines", async () => {
    await using s = await startTestServer();
    await Promise.all(
      Array.from({ length: 20 }, async (_, j) => {
        for (let b = 0; b < 5; b++) {
          await s.post(`/worker/jobs/p${j}/logs`, {
            step_name: "s",
            lines: makeLines(20, `p${j}`, "stdout", b * 20),
          });
        }
      }),
    );
    for (let j = 0; j < 20; j++) {
      const { logs } = (await (await s.fetch(`/api/jobs/p${j}/logs`)).json()) as { logs: string };
      expect(parseJsonl(logs).map((l) => l.line)).toEqual(makeLines(100, `p${j}`).map((l) => l.line));
    }
  });

  test("a retried batch with the same key is written once, also after a restart", async () => {
    await using first = await startTestServer();
    const dir = first.dir;
    const body = { step_name: "s", lines: makeLines(3) };
    const a = await (await first.post("/worker/jobs/j/logs", body, { "Idempotency-Key": "batch-1" })).json();
    const b = await (await first.post("/worker/jobs/j/logs", body, { "Idempotency-Key": "batch-1" })).json();
    const c = await (await first.post("/worker/jobs/j/logs", { ...body, batch_id: "batch-2" })).json();
    const d = await (await first.post("/worker/jobs/j/logs", { ...body, batch_id: "batch-2" })).json();
    expect([a, b, c, d]).toEqual([
      { status: "ok", first: 0, next: 3 },
      { status: "ok", first: 0, next: 3, duplicate: true },
      { status: "ok", first: 3, next: 6 },
      { status: "ok", first: 3, next: 6, duplicate: true },
    ]);
    await first.stop();
    await using again = await startTestServer({}, { dir });
    const e = await (await again.post("/worker/jobs/j/logs", body, { "Idempotency-Key": "batch-1" })).json();
    expect(e).toEqual({ status: "ok", first: 0, next: 3, duplicate: true });
    expect(parseJsonl(await Bun.file(join(dir, "j.jsonl")).text()).length).toBe(6);
  });

  test("an over-long line is stored truncated with a marker and the response counts it", async () => {
    await using s = await startTestServer({ limits: { max_line_bytes: 100 } });
    const r = await s.post("/worker/jobs/j/logs", {
      step_name: "s",
      lines: [
        { ts: TS, stream: "stdout", line: "x".repeat(150) },
        { ts: TS, stream: "stdout", line: "short" },
      ],
    });
    expect(await r.json()).toEqual({ status: "ok", first: 0, next: 2, truncated_lines: 1 });
    const lines = parseJsonl(((await (await s.fetch("/api/jobs/j/logs")).json()) as { logs: string }).logs);
    expect(lines.map((l) => l.line)).toEqual([`${"x".repeat(100)}…[truncated 50 bytes]`, "short"]);
  });

  test("server events are written as _server stderr lines and read through the _server step", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "build", lines: makeLines(1) });
    const r = await s.post("/api/jobs/j/events", { message: "[hooks] hook http://h/ failed: 500" });
    expect(await r.json()).toEqual({ status: "ok", first: 1, next: 2 });
    const body = (await (await s.fetch("/api/jobs/j/steps/_server/logs")).json()) as { logs: string };
    const [event] = parseJsonl(body.logs);
    expect({ ...event, ts: "-" } as Record<string, unknown>).toEqual({
      ts: "-",
      stream: "stderr",
      step: "_server",
      line: "[hooks] hook http://h/ failed: 500",
    });
  });

  test("a file left by a Strøm server is adopted on the first push: numbering continues after its lines", async () => {
    await using s = await startTestServer();
    const old = ["a", "b", "c"]
      .map((l) => `{"ts":"${TS}","stream":"stdout","step":"s","line":"${l}"}\n`)
      .join("");
    writeFileSync(join(s.dir, "taken.jsonl"), `${old}{"ts":"2025`); // and a torn last line, never acknowledged
    const r = await s.post("/worker/jobs/taken/logs", { step_name: "s", lines: makeLines(1, "new") });
    expect(await r.json()).toEqual({ status: "ok", first: 3, next: 4 });
    const body = (await (await s.fetch("/api/jobs/taken/logs")).json()) as { logs: string };
    expect(parseJsonl(body.logs).map((l) => l.line)).toEqual(["a", "b", "c", "new-0"]);
  });

  test("a server event retried under the same Idempotency-Key is recorded once", async () => {
    await using s = await startTestServer();
    const send = () =>
      s.post("/api/jobs/j/events", { message: "5 lines dropped" }, { "idempotency-key": "drops:h:s:5" });
    const [a, b] = [await (await send()).json(), await (await send()).json()];
    expect([a, b]).toEqual([
      { status: "ok", first: 0, next: 1 },
      { status: "ok", first: 0, next: 1, duplicate: true },
    ]);
    const bad = await s.post("/api/jobs/j/events", { message: "x" }, { "idempotency-key": "has space" });
    expect(bad.status).toBe(400);
  });

  test("a late push to a finished job is accepted and counted", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(2) });
    await s.post("/worker/jobs/j/complete", { status: "completed" });
    const late = await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1, "late") });
    expect(await late.json()).toEqual({ status: "ok", first: 2, next: 3 });
    const job = (await (await s.fetch("/api/jobs/j")).json()) as Record<string, unknown>;
    expect([job.status, job.lines, job.late_lines]).toEqual(["completed", 3, 1]);
  });

  test("bytes past the recorded end (written, never acknowledged) are never served and are cut before the next write", async () => {
    await using first = await startTestServer();
    const dir = first.dir;
    await first.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(2) });
    await first.stop();
    // What a crash between the file write and the commit leaves behind: a whole line and a torn one.
    appendFileSync(
      join(dir, "j.jsonl"),
      `{"ts":"${TS}","stream":"stdout","step":"s","line":"ghost"}\n{"ts":"2025`,
    );
    await using again = await startTestServer({}, { dir });
    const before = (await (await again.fetch("/api/jobs/j/logs")).json()) as { logs: string };
    expect(parseJsonl(before.logs).map((l) => l.line)).toEqual(["line-0", "line-1"]);
    const r = await again.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1, "after") });
    expect(await r.json()).toEqual({ status: "ok", first: 2, next: 3 });
    expect(parseJsonl(await Bun.file(join(dir, "j.jsonl")).text()).map((l) => l.line)).toEqual([
      "line-0",
      "line-1",
      "after-0",
    ]);
  });
});
