// Bad input that needs a real socket: odd request targets as a client sends them, a body that stalls.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { rawConnection } from "../support/raw-http.ts";
import { startTestServer } from "../support/server.ts";

const TS = "2025-02-12T10:56:45.123Z";
const ok = { step_name: "build", lines: [{ ts: TS, stream: "stdout", line: "x" }] };

describe("bad input", () => {
  test("a job id outside the allowed pattern is a 400 on every route and never becomes a path", async () => {
    await using s = await startTestServer();
    for (const id of [
      "..%2F..%2Fetc%2Fpasswd",
      "..%2F",
      ".hidden",
      "-x",
      "a".repeat(129),
      "a%00b",
      "a b",
      "%C3%A9",
    ]) {
      for (const [method, path] of [
        ["POST", `/worker/jobs/${id}/logs`],
        ["POST", `/worker/jobs/${id}/complete`],
        ["GET", `/api/jobs/${id}/logs`],
        ["GET", `/api/jobs/${id}/steps/build/logs`],
        ["GET", `/api/jobs/${id}`],
        ["PUT", `/api/jobs/${id}`],
      ] as const) {
        const r = await s.fetch(path, { method, ...(method === "GET" ? {} : { body: JSON.stringify(ok) }) });
        const body = (await r.json()) as { code: string };
        expect([method, path, r.status, body.code]).toEqual([method, path, 400, "invalid_job_id"]);
      }
    }
    expect(readdirSync(s.dir).filter((f) => !f.startsWith("stroem-logs.db"))).toEqual([]);
  });

  test("a body that stalls is a 408 after limits.request_timeout and writes nothing", async () => {
    await using s = await startTestServer({ limits: { request_timeout: "300ms" } });
    // Headers promise 1,000 bytes; only the start of the body ever comes.
    const text = await stalledPost(s.url, 'Content-Length: 1000\r\n\r\n{"step_name"');
    expect(text.split("\r\n")[0]).toBe("HTTP/1.1 408 Request Timeout");
    expect(JSON.parse(text.slice(text.indexOf("{")))).toEqual({
      error: "request body not received within limits.request_timeout 300 ms (1000 bytes declared)",
      code: "request_timeout",
    });
    // The rest of the body is never read: the answer ends the connection.
    expect(text.toLowerCase()).toContain("\r\nconnection: close\r\n");
    expect(existsSync(join(s.dir, "j.jsonl"))).toBe(false);
  });

  test("a chunked body that stalls is a 408 naming how much of it came, and writes nothing", async () => {
    await using s = await startTestServer({ limits: { request_timeout: "300ms" } });
    // No length declared: one chunk of the body comes, then nothing.
    const text = await stalledPost(s.url, 'Transfer-Encoding: chunked\r\n\r\nc\r\n{"step_name"\r\n');
    expect(text.split("\r\n")[0]).toBe("HTTP/1.1 408 Request Timeout");
    expect(JSON.parse(text.slice(text.indexOf("{")))).toEqual({
      error: "request body not received within limits.request_timeout 300 ms (got 12 bytes)",
      code: "request_timeout",
    });
    expect(existsSync(join(s.dir, "j.jsonl"))).toBe(false);
  });
});

/** A push whose request ends with `rest` (the last headers and a start of the body), then stalls: the answer. */
async function stalledPost(url: string, rest: string): Promise<string> {
  const conn = await rawConnection(url);
  conn.write(`POST /worker/jobs/j/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${rest}`);
  const text = await conn.answer;
  conn.end();
  return text;
}
