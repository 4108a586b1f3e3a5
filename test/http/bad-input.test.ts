// Bad input, in process (no socket): a precise 4xx naming what was wrong, nothing written, the service unharmed.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startTestApp } from "../support/app.ts";
import { makeLines } from "../support/server.ts";

const TS = "2025-02-12T10:56:45.123Z";
const ok = { step_name: "build", lines: [{ ts: TS, stream: "stdout", line: "x" }] };

const cases: Array<[string, string | object, number, { error: string; code: string }]> = [
  [
    "invalid JSON",
    "{not json",
    400,
    { error: expect.stringMatching(/^invalid JSON: /) as never, code: "invalid_json" },
  ],
  [
    "an empty body",
    "",
    400,
    { error: "request body is empty: expected a JSON object", code: "invalid_json" },
  ],
  [
    "a JSON array instead of an object",
    "[]",
    400,
    { error: "body: expected a JSON object (got an array)", code: "invalid_body" },
  ],
  [
    "a missing step_name",
    { lines: ok.lines },
    400,
    { error: "step_name: required field is missing", code: "invalid_body" },
  ],
  ["an extra field", { ...ok, extra: 1 }, 400, { error: "extra: unknown field", code: "invalid_body" }],
  [
    "an extra field in a line",
    { ...ok, lines: [{ ...ok.lines[0], level: "x" }] },
    400,
    { error: "lines[0].level: unknown field", code: "invalid_body" },
  ],
  [
    "lines of the wrong type",
    { ...ok, lines: "x" },
    400,
    { error: "lines: expected an array of lines", code: "invalid_body" },
  ],
  [
    "a line that is a number",
    { ...ok, lines: [{ ts: TS, stream: "stdout", line: 5 }] },
    400,
    { error: "lines[0].line: expected a string", code: "invalid_body" },
  ],
  [
    "an unknown stream",
    { ...ok, lines: [{ ts: TS, stream: "stdlog", line: "x" }] },
    400,
    { error: 'lines[0].stream: expected "stdout" or "stderr" (got "stdlog")', code: "invalid_body" },
  ],
  [
    "an unparseable ts",
    { ...ok, lines: [{ ts: "yesterday", stream: "stdout", line: "x" }] },
    400,
    { error: 'lines[0].ts: expected an ISO 8601 timestamp (got "yesterday")', code: "invalid_body" },
  ],
  [
    "a bad ts in the third line",
    { ...ok, lines: [...makeLines(2), { ts: "2025-02-30T25:00:00Z", stream: "stdout", line: "x" }] },
    400,
    {
      error: 'lines[2].ts: expected an ISO 8601 timestamp (got "2025-02-30T25:00:00Z")',
      code: "invalid_body",
    },
  ],
  [
    "empty lines",
    { ...ok, lines: [] },
    400,
    { error: "lines: must hold at least one line", code: "invalid_body" },
  ],
  [
    "an empty step name",
    { ...ok, step_name: "" },
    400,
    { error: "step_name: must not be empty", code: "invalid_body" },
  ],
  [
    "a step name over 256 characters",
    { ...ok, step_name: "s".repeat(257) },
    400,
    { error: "step_name: must be at most 256 characters (got 257)", code: "invalid_body" },
  ],
  [
    "a step name with a control character",
    { ...ok, step_name: "a\nb" },
    400,
    { error: "step_name: must not contain control characters", code: "invalid_body" },
  ],
  [
    "the reserved _server step",
    { ...ok, step_name: "_server" },
    400,
    { error: 'step_name: "_server" is reserved for server events', code: "invalid_body" },
  ],
];

describe("bad input", () => {
  for (const [name, body, status, error] of cases) {
    test(`a push with ${name} is a ${status} that writes nothing`, async () => {
      await using s = await startTestApp();
      const r = await s.post("/worker/jobs/j/logs", body);
      expect([r.status, await r.json()]).toEqual([status, error]);
      expect(existsSync(join(s.dir, "j.jsonl"))).toBe(false);
      expect(await (await s.request("/api/jobs/j")).json()).toEqual({
        error: "job j not found",
        code: "not_found",
      });
    });
  }

  test("a body over max_body_bytes is a 413 that writes nothing, with or without a content-length", async () => {
    await using s = await startTestApp({ limits: { max_body_bytes: 1000 } });
    const big = JSON.stringify({ step_name: "s", lines: makeLines(50) });
    const declared = await s.post("/worker/jobs/j/logs", big);
    expect([declared.status, await declared.json()]).toEqual([
      413,
      {
        error: `request body exceeds limits.max_body_bytes 1000 (got ${Buffer.byteLength(big)} bytes)`,
        code: "body_too_large",
      },
    ]);
    const chunked = await s.request("/worker/jobs/j/logs", {
      method: "POST",
      body: new Blob([big]).stream(),
      headers: { "content-type": "application/json" },
    });
    expect(chunked.status).toBe(413);
    expect(existsSync(join(s.dir, "j.jsonl"))).toBe(false);
  });

  test("a body that is not valid UTF-8 is a 400", async () => {
    await using s = await startTestApp();
    const bytes = new Uint8Array([
      ...new TextEncoder().encode('{"step_name":"s","lines":[{"stream":"stdout","line":"'),
      0xff,
      0xfe,
      ...new TextEncoder().encode('"}]}'),
    ]);
    const r = await s.request("/worker/jobs/j/logs", { method: "POST", body: bytes });
    expect([r.status, await r.json()]).toEqual([
      400,
      { error: "request body is not valid UTF-8", code: "invalid_json" },
    ]);
  });

  test("a bad read query names the parameter", async () => {
    await using s = await startTestApp();
    await s.post("/worker/jobs/j/logs", ok);
    const cases = [
      ["from=-1", 'from: expected a non-negative integer (got "-1")'],
      ["limit=abc", 'limit: expected a non-negative integer (got "abc")'],
      ["stream=stdlog", 'stream: expected "stdout" or "stderr" (got "stdlog")'],
      ["format=xml", 'format: expected "json" or "ndjson" (got "xml")'],
      ["tail=5&limit=5", "tail and limit cannot be combined: tail already says how many lines"],
    ];
    for (const [query, error] of cases) {
      const r = await s.request(`/api/jobs/j/logs?${query}`);
      expect([query, r.status, ((await r.json()) as { error: string }).error]).toEqual([query, 400, error]);
    }
  });

  test("a bad complete or event body is a 400 that changes nothing", async () => {
    await using s = await startTestApp();
    await s.post("/worker/jobs/j/logs", ok);
    const bad = await s.post("/worker/jobs/j/complete", { status: "done" });
    expect([bad.status, await bad.json()]).toEqual([
      400,
      {
        error: 'status: expected one of completed, failed, cancelled, skipped (got "done")',
        code: "invalid_body",
      },
    ]);
    const event = await s.post("/api/jobs/j/events", { message: "" });
    expect([event.status, ((await event.json()) as { error: string }).error]).toEqual([
      400,
      "message: must not be empty",
    ]);
    const job = (await (await s.request("/api/jobs/j")).json()) as { status: string; lines: number };
    expect([job.status, job.lines]).toEqual(["running", 1]);
  });

  test("an unknown route is a JSON 404", async () => {
    await using s = await startTestApp();
    const r = await s.request("/api/nothing");
    expect([r.status, await r.json()]).toEqual([
      404,
      { error: "no route for GET /api/nothing", code: "no_route" },
    ]);
  });
});
