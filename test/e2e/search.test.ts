// GET /api/jobs/{id}/search: matching line numbers in pages, on every tier (local, legacy .log, archive).
import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

type Line = { line: string; stream?: "stdout" | "stderr" };

async function push(s: TestServer, job: string, step: string, lines: Line[]): Promise<void> {
  const res = await s.post(`/worker/jobs/${job}/logs`, {
    step_name: step,
    lines: lines.map((l) => ({ ts: "2025-02-12T10:56:45.123Z", stream: l.stream ?? "stdout", line: l.line })),
  });
  expect(res.status).toBe(200);
}

const search = async (s: TestServer, job: string, query: string) => {
  const res = await s.fetch(`/api/jobs/${job}/search?${query}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/**
 * Every page until `done` (or, with `limit`, until that many matches): a page may end early at its time
 * budget on a busy machine, so a test that wants all the matches follows the cursor as the page does.
 */
async function searchAll(s: TestServer, job: string, query: string, limit = Number.POSITIVE_INFINITY) {
  const matches: number[] = [];
  const q = new URLSearchParams(query);
  for (;;) {
    const { body } = await search(s, job, q.toString());
    matches.push(...(body.matches as number[]));
    if (body.done === true || matches.length >= limit)
      return { source: body.source, matches, next: body.next };
    q.set("from", String(body.next));
  }
}

describe("search", () => {
  test("a text search answers the numbers of the lines whose text holds it, in pages that continue from the cursor", async () => {
    await using s = await startTestServer();
    await push(s, "j", "build", [
      { line: "alpha" },
      { line: "beta needle" },
      { line: "gamma" },
      { line: "needle again" },
      { line: 'a "quoted\\" needle\twith tab' },
      { line: "Needle in capitals" },
    ]);
    await push(s, "j", "needle", [{ line: "a step of that name" }]);
    expect(await search(s, "j", "q=needle")).toEqual({
      status: 200,
      body: { source: "local", matches: [1, 3, 4], from: 0, next: 7, done: true },
    });
    // Pages: limit matches each, `next` continues after the last one.
    expect((await search(s, "j", "q=needle&limit=2")).body).toEqual({
      source: "local",
      matches: [1, 3],
      from: 0,
      next: 4,
      done: false,
    });
    expect((await search(s, "j", "q=needle&limit=2&from=4")).body).toEqual({
      source: "local",
      matches: [4],
      from: 4,
      next: 7,
      done: true,
    });
    // Characters JSON escapes in the file are found as the line holds them.
    expect((await search(s, "j", `q=${encodeURIComponent('"quoted\\" needle\twith')}`)).body.matches).toEqual(
      [4],
    );
    expect((await search(s, "j", "q=needle&icase=true")).body.matches).toEqual([1, 3, 4, 5]);
    expect((await search(s, "j", `re=${encodeURIComponent("^(beta|gamma)")}`)).body.matches).toEqual([1, 2]);
    expect((await search(s, "j", "q=needle&step=build&limit=1&from=2")).body).toEqual({
      source: "local",
      matches: [3],
      from: 2,
      next: 4,
      done: false,
    });
    // From past the end: nothing, done.
    expect((await search(s, "j", "q=needle&from=100")).body).toEqual({
      source: "local",
      matches: [],
      from: 100,
      next: 100,
      done: true,
    });
  });

  test("a step or stream alone lists that step's (or stream's) lines: what a step view pages through", async () => {
    await using s = await startTestServer();
    for (let i = 0; i < 6; i++)
      await push(s, "k", i % 2 === 0 ? "a" : "b", [{ line: `x${i}`, stream: i === 3 ? "stderr" : "stdout" }]);
    expect((await search(s, "k", "step=b")).body.matches).toEqual([1, 3, 5]);
    expect((await search(s, "k", "stream=stderr")).body.matches).toEqual([3]);
    expect((await search(s, "k", "step=a&q=x4")).body.matches).toEqual([4]);
  });

  test("the same search finds the same line numbers in the local file, the archive and a legacy .log", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
    });
    const lines = Array.from({ length: 30_000 }, (_, i) => ({
      line: i % 7000 === 3 ? `hit ${i}` : `line ${i}`,
    }));
    for (let i = 0; i < lines.length; i += 5000) await push(s, "t", "s", lines.slice(i, i + 5000));
    const all = [3, 7003, 14003, 21003, 28003];
    expect(await searchAll(s, "t", "q=hit")).toEqual({ source: "local", matches: all, next: 30_000 });
    expect(await searchAll(s, "t", "re=hit%20%5Cd%2B&from=10000")).toEqual({
      source: "local",
      matches: [14003, 21003, 28003],
      next: 30_000,
    });

    await s.post("/worker/jobs/t/complete", { status: "completed" });
    await waitFor("the archive", async () => {
      const j = (await (await s.fetch("/api/jobs/t")).json()) as { archive: { state: string } | null };
      return j.archive?.state === "uploaded";
    });
    rmSync(join(s.dir, "t.jsonl"));
    expect(await searchAll(s, "t", "q=hit")).toEqual({ source: "archive", matches: all, next: 30_000 });
    expect(await searchAll(s, "t", "re=hit%20%5Cd%2B&from=10000")).toEqual({
      source: "archive",
      matches: [14003, 21003, 28003],
      next: 30_000,
    });
    expect(await searchAll(s, "t", "q=hit&from=7004&limit=1", 1)).toEqual({
      source: "archive",
      matches: [14003],
      next: 14004,
    });

    // A legacy plain-text log: its text lines are the lines; a step filter matches nothing.
    writeFileSync(join(s.dir, "old.log"), "first\nsecond hit\nthird\nhit fourth");
    expect((await search(s, "old", "q=hit")).body).toEqual({
      source: "legacy",
      matches: [1, 3],
      from: 0,
      next: 4,
      done: true,
    });
    expect((await search(s, "old", "re=%5Ehit")).body.matches).toEqual([3]);
    expect((await search(s, "old", "q=hit&step=x")).body.matches).toEqual([]);
  }, 60_000);

  test("a pattern that backtracks on every line is stopped with a 422, and the server answers others meanwhile", async () => {
    await using s = await startTestServer();
    // JavaScriptCore gives up on each of these lines after ~0.5 s of backtracking: 20 of them are far past
    // the 2 s a block may take, on any machine.
    const bad = Array.from({ length: 20 }, () => ({ line: `${"a".repeat(30)}!` }));
    await push(s, "redos", "s", [...bad, { line: "fine" }]);
    const started = Date.now();
    const slow = search(s, "redos", `re=${encodeURIComponent("^(a+)+$")}`);
    // The pattern runs in the worker: the server's own thread keeps answering.
    const health = await s.fetch("/healthz");
    const healthMs = Date.now() - started;
    const r = await slow;
    expect({ status: r.status, code: r.body.code, health: health.status }).toEqual({
      status: 422,
      code: "regex_too_slow",
      health: 200,
    });
    expect(healthMs).toBeLessThan(1000);
    expect(Date.now() - started).toBeLessThan(15_000);
    // A fresh worker takes the next search.
    expect((await search(s, "redos", "re=fi.e")).body.matches).toEqual([20]);
  }, 30_000);

  test("bad queries are a 400 naming the problem; an unknown job a 404; a job without lines an empty answer", async () => {
    await using s = await startTestServer();
    await push(s, "b", "s", [{ line: "x" }]);
    const cases: Array<[string, string]> = [
      ["q=a&re=b", "q and re cannot be combined: q is a text, re a regular expression"],
      ["", "nothing to search for: give q (a text), re (a regular expression), step or stream"],
      ["re=(", "re: not a valid regular expression: "],
      ["q=a&limit=0", "limit: must be at least 1"],
      ["q=a&limit=10001", "limit: must be at most 10000 (got 10001)"],
      ["q=a&from=-1", 'from: expected a non-negative integer (got "-1")'],
      ["q=", "q: must not be empty"],
      ["q=a&stream=both", 'stream: expected "stdout" or "stderr" (got "both")'],
      ["q=a&icase=yes", 'icase: expected true or false (got "yes")'],
    ];
    for (const [query, message] of cases) {
      const r = await search(s, "b", query);
      const error = String(r.body.error);
      expect([query, r.status, r.body.code, error.startsWith(message) ? message : error]).toEqual([
        query,
        400,
        "invalid_query",
        message,
      ]);
    }
    expect(await search(s, "nope", "q=a")).toEqual({
      status: 404,
      body: { error: "job nope not found: no job registered and no log stored", code: "job_not_found" },
    });
    await s.fetch("/api/jobs/empty", { method: "PUT", body: JSON.stringify({ workspace: "w", task: "t" }) });
    expect((await search(s, "empty", "q=a")).body).toEqual({
      matches: [],
      from: 0,
      next: 0,
      done: true,
      source: "none",
    });
  });
});
