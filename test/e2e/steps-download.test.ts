// GET /api/jobs/{id}/steps (each step's counts and runs) and GET /api/jobs/{id}/logs/download, on every tier.
import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

async function push(s: TestServer, job: string, step: string, lines: string[], stream = "stdout") {
  const res = await s.post(`/worker/jobs/${job}/logs`, {
    step_name: step,
    lines: lines.map((line) => ({ ts: "2025-02-12T10:56:45.123Z", stream, line })),
  });
  expect(res.status).toBe(200);
}

const json = async (s: TestServer, path: string) => {
  const res = await s.fetch(path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe("steps", () => {
  test("each step with its line count, first and last line, streams and runs; kept up to date as lines arrive", async () => {
    await using s = await startTestServer();
    await push(s, "j", "checkout", ["a", "b"]);
    await push(s, "j", "build", ["c"], "stderr");
    expect(await json(s, "/api/jobs/j/steps")).toEqual({
      status: 200,
      body: {
        source: "local",
        lines: 3,
        steps: [
          {
            name: "checkout",
            lines: 2,
            first: 0,
            last: 1,
            stdout: 2,
            stderr: 0,
            runs: [[0, 2]],
            runs_complete: true,
          },
          {
            name: "build",
            lines: 1,
            first: 2,
            last: 2,
            stdout: 0,
            stderr: 1,
            runs: [[2, 3]],
            runs_complete: true,
          },
        ],
        last_step: "build",
        other_lines: 0,
        steps_truncated: false,
      },
    });
    await push(s, "j", "build", ["d", "e"]);
    await push(s, "j", "checkout", ["f"]);
    await s.post("/api/jobs/j/events", { message: "hook failed" });
    const later = (await json(s, "/api/jobs/j/steps")).body;
    expect([later.lines, later.last_step]).toEqual([7, "_server"]);
    expect((later.steps as Array<Record<string, unknown>>).map((x) => [x.name, x.lines, x.runs])).toEqual([
      [
        "checkout",
        3,
        [
          [0, 2],
          [5, 6],
        ],
      ],
      ["build", 3, [[2, 5]]],
      ["_server", 1, [[6, 7]]],
    ]);
  });

  test("the same summary comes from the archive once the local file is gone; a legacy .log has no steps", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
    });
    await push(s, "a", "one", ["x", "y"]);
    await push(s, "a", "two", ["z"]);
    const local = (await json(s, "/api/jobs/a/steps")).body;
    await s.post("/worker/jobs/a/complete", { status: "completed" });
    await waitFor("the archive", async () => {
      const j = (await (await s.fetch("/api/jobs/a")).json()) as { archive: { state: string } | null };
      return j.archive?.state === "uploaded";
    });
    rmSync(join(s.dir, "a.jsonl"));
    expect((await json(s, "/api/jobs/a/steps")).body).toEqual({ ...local, source: "archive" });

    writeFileSync(join(s.dir, "old.log"), "plain\ntext\n");
    expect((await json(s, "/api/jobs/old/steps")).body).toEqual({
      source: "legacy",
      lines: 2,
      steps: [],
      last_step: null,
      other_lines: 2,
      steps_truncated: false,
    });
    expect((await json(s, "/api/jobs/nope/steps")).status).toBe(404);
  });
});

describe("download", () => {
  test("the log as JSONL or plain text, whole or one step, with a file name; streamed from any tier", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
    });
    await push(s, "d", "build", ["\x1b[31mred\x1b[0m", 'say "hi"']);
    await push(s, "d", "test", ["ok"], "stderr");
    const whole = await s.fetch("/api/jobs/d/logs/download");
    const jsonl = await (await s.fetch("/api/jobs/d/logs?format=ndjson")).text();
    expect([
      whole.status,
      whole.headers.get("content-type"),
      whole.headers.get("content-disposition"),
      await whole.text(),
    ]).toEqual([
      200,
      "application/x-ndjson; charset=utf-8",
      `attachment; filename="d.jsonl"; filename*=UTF-8''d.jsonl`,
      jsonl,
    ]);
    const text = await s.fetch("/api/jobs/d/logs/download?format=text&step=build");
    expect([
      text.headers.get("content-type"),
      text.headers.get("content-disposition"),
      await text.text(),
    ]).toEqual([
      "text/plain; charset=utf-8",
      `attachment; filename="d-build.log"; filename*=UTF-8''d-build.log`,
      '\x1b[31mred\x1b[0m\nsay "hi"\n',
    ]);
    expect(await (await s.fetch("/api/jobs/d/logs/download?format=text&stream=stderr")).text()).toBe("ok\n");

    await s.post("/worker/jobs/d/complete", { status: "completed" });
    await waitFor("the archive", async () => {
      const j = (await (await s.fetch("/api/jobs/d")).json()) as { archive: { state: string } | null };
      return j.archive?.state === "uploaded";
    });
    rmSync(join(s.dir, "d.jsonl"));
    const fromArchive = await s.fetch("/api/jobs/d/logs/download");
    expect([fromArchive.headers.get("x-stroem-source"), await fromArchive.text()]).toEqual([
      "archive",
      jsonl,
    ]);

    // A step name that is not a plain file name is kept exactly in filename*, replaced in the ASCII fallback.
    await push(s, "u", "byg/ø", ["x"]);
    expect(
      (await s.fetch("/api/jobs/u/logs/download?step=byg%2F%C3%B8")).headers.get("content-disposition"),
    ).toBe(`attachment; filename="u-byg__.jsonl"; filename*=UTF-8''u-byg%2F%C3%B8.jsonl`);
    writeFileSync(join(s.dir, "old.log"), "plain\ntext");
    expect(await (await s.fetch("/api/jobs/old/logs/download?format=text")).text()).toBe("plain\ntext\n");
    expect(await json(s, "/api/jobs/d/logs/download?format=csv")).toEqual({
      status: 400,
      body: { error: 'format: expected "jsonl" or "text" (got "csv")', code: "invalid_query" },
    });
    expect((await json(s, "/api/jobs/nope/logs/download")).status).toBe(404);
  });
});
