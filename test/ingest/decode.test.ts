// A push on its way to its job's turn: whichever way it was decoded before (on a worker without a masker, or
// parsed here for a job with secrets), the turn's masker decides what is stored.
import { describe, expect, test } from "bun:test";
import { createMasker } from "../../src/core/mask.ts";
import { decodePush, masked, parseBody, unmasked } from "../../src/ingest/decode.ts";

const NOW = "2026-12-02T00:00:00.000Z";
const MAX = 64;
const body = new TextEncoder().encode(
  JSON.stringify({
    step_name: "build",
    batch_id: "b-1",
    lines: [
      { stream: "stdout", line: "token hunter2 here" },
      { ts: "2026-12-01T10:00:00.5Z", stream: "stderr", line: `long ${"x".repeat(100)} hunter2` },
    ],
  }),
);
const mask = createMasker(["hunter2"]).mask;
const text = (b: { data: Uint8Array }) => new TextDecoder().decode(b.data);

describe("a push for its job's turn", () => {
  test("decoded without a masker, it is decoded again with the masker its job has by its turn", () => {
    const pre = decodePush(body, NOW, MAX, null);
    const p = unmasked(pre, body, NOW, MAX);
    expect(p.encode(null)).toBe(pre);
    expect(text(pre)).toContain("hunter2");
    const late = p.encode(mask);
    expect(late).toEqual(decodePush(body, NOW, MAX, mask));
    expect(text(late)).not.toContain("hunter2");
    expect({ sent: p.sent.count, lineBytes: p.sent.lineBytes, batchId: p.batchId }).toEqual({
      sent: 2,
      lineBytes: pre.lineBytes,
      batchId: "b-1",
    });
  });

  test("parsed for a job with secrets, it is encoded once, with the masker its job has by its turn (or none)", () => {
    const p = masked(parseBody(body), NOW, MAX);
    expect(p.encode(mask)).toEqual(decodePush(body, NOW, MAX, mask));
    expect(text(p.encode(mask))).not.toContain("hunter2");
    // The secrets gone by its turn: stored as sent (the turn refuses it when they were lost, not deleted).
    expect(p.encode(null)).toEqual(decodePush(body, NOW, MAX, null));
    expect({ sent: p.sent, batchId: p.batchId }).toEqual({
      sent: { count: 2, lineBytes: decodePush(body, NOW, MAX, null).lineBytes },
      batchId: "b-1",
    });
  });
});
