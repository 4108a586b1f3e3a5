// The push body's fast validation accepts, normalises and refuses exactly as the PushBody schema does.
import { describe, expect, test } from "bun:test";
import { parse } from "../../src/http/params.ts";
import { parsePush } from "../../src/ingest/decode.ts";
import { PushBody } from "../../src/protocol/push.ts";

const ok = { ts: "2025-02-12T10:56:45.123Z", stream: "stdout", line: "hello" };

/** Bodies as JSON text (as they arrive): valid ones and one of every way a field can be wrong. */
const bodies: string[] = [
  JSON.stringify({ step_name: "build", lines: [ok] }),
  JSON.stringify({ step_name: "build", lines: [ok, { stream: "stderr", line: "" }], batch_id: "b-1" }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, ts: "2025-02-12 10:56:45,5+02:00" }] }),
  JSON.stringify({ step_name: "ü".repeat(256), lines: [{ stream: "stdout", line: "x\u0000y" }] }),
  JSON.stringify({ lines: [ok] }),
  JSON.stringify({ step_name: "", lines: [ok] }),
  JSON.stringify({ step_name: "s".repeat(257), lines: [ok] }),
  JSON.stringify({ step_name: "a\nb", lines: [ok] }),
  JSON.stringify({ step_name: "_server", lines: [ok] }),
  JSON.stringify({ step_name: 7, lines: [ok] }),
  JSON.stringify({ step_name: null, lines: [ok] }),
  JSON.stringify({ step_name: "build", lines: [ok], batch_id: "" }),
  JSON.stringify({ step_name: "build", lines: [ok], batch_id: "k".repeat(201) }),
  JSON.stringify({ step_name: "build", lines: [ok], batch_id: 5 }),
  JSON.stringify({ step_name: "build", lines: [ok], batch_id: null }),
  JSON.stringify({ step_name: "build", lines: [ok], extra: 1 }),
  JSON.stringify({ step_name: "build", lines: [] }),
  JSON.stringify({ step_name: "build", lines: {} }),
  JSON.stringify({ step_name: "build", lines: "x" }),
  JSON.stringify({ step_name: "build" }),
  JSON.stringify({ step_name: "build", lines: [ok, null] }),
  JSON.stringify({ step_name: "build", lines: [ok, [1]] }),
  JSON.stringify({ step_name: "build", lines: [ok, "line"] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, extra: true }] }),
  JSON.stringify({ step_name: "build", lines: [{ ts: ok.ts, line: "x" }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, stream: "stdin" }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, stream: null }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, line: 5 }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, line: null }] }),
  JSON.stringify({ step_name: "build", lines: [{ stream: "stdout" }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, ts: null }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, ts: 1739357805123 }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, ts: "yesterday" }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, ts: "2025-13-12T10:56:45.123Z" }] }),
  JSON.stringify({ step_name: "build", lines: [{ ...ok, ts: "2025-02-12T24:00:00.001Z" }] }),
  '{"step_name":"build","lines":[{"stream":"stdout","line":"x","__proto__":{"a":1}}]}',
  '{"step_name":"build","lines":[{"stream":"stdout","line":"x"}],"__proto__":{"a":1}}',
  '{"step_name":"build","lines":[{"stream":"stdout","line":"x","constructor":1}]}',
  '{"step_name":"build","lines":[{"stream":"stdout","line":"x","ts":"2025-02-12T10:56:45.123Z","ts":"bad"}]}',
];

/** What a validation did: its output, or the message and code it refused with. */
function outcome(fn: () => unknown): unknown {
  try {
    return { ok: fn() };
  } catch (e) {
    return { error: (e as Error).message, code: (e as { code?: string }).code };
  }
}

describe("push body validation", () => {
  test("the fast path gives the schema's output or the schema's error for every body", () => {
    const schema = bodies.map((b) => outcome(() => parse(PushBody, JSON.parse(b))));
    const fast = bodies.map((b) => outcome(() => parsePush(JSON.parse(b))));
    expect(fast).toEqual(schema);
  });

  test("a body of 500 valid lines is accepted with its timestamps normalised", () => {
    const lines = Array.from({ length: 500 }, (_, i) => ({
      ts: `2025-02-12T10:56:45${i % 2 ? "Z" : ".5+01:00"}`,
      stream: i % 3 ? "stdout" : "stderr",
      line: `line ${i}`,
    }));
    const body = JSON.parse(JSON.stringify({ step_name: "build", lines }));
    expect(parsePush(body)).toEqual(parse(PushBody, body));
  });
});
