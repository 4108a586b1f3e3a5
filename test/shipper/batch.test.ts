import { describe, expect, test } from "bun:test";
import {
  backoffDelay,
  bodyPrefix,
  buildBody,
  encodeRecord,
  envelopeBytes,
  retryAfterMs,
  retryDelay,
} from "../../src/shipper/batch.ts";

describe("batch body", () => {
  test("spooled records become the push body the server validates", () => {
    const records = [
      encodeRecord("2025-02-12T10:56:45.123Z", "stdout", 'say "hi"\n'),
      encodeRecord("2025-02-12T10:56:45.124Z", "stderr", "\u0000\u2028ø"),
    ];
    const prefix = bodyPrefix("build ✓");
    const body = buildBody(prefix, new TextEncoder().encode(`${records.join("\n")}\n`));
    expect(JSON.parse(new TextDecoder().decode(body))).toEqual({
      step_name: "build ✓",
      lines: [
        { ts: "2025-02-12T10:56:45.123Z", stream: "stdout", line: 'say "hi"\n' },
        { ts: "2025-02-12T10:56:45.124Z", stream: "stderr", line: "\u0000\u2028ø" },
      ],
    });
    const recordBytes = new TextEncoder().encode(`${records.join("\n")}\n`).length;
    expect(body.length).toBe(recordBytes + envelopeBytes(prefix));
  });
});

describe("retry delays", () => {
  test("backoff doubles from the base, is capped, and jitters between half and all of the step", () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 100, 1000, 1))).toEqual([100, 200, 400, 800, 1000]);
    expect([0, 1, 10].map((a) => backoffDelay(a, 100, 1000, 0))).toEqual([50, 100, 500]);
  });

  test("the wait after a failure is never below 250 ms, whatever the cap, and doubles up to the cap", () => {
    expect([0, 1, 2, 3, 10].map((f) => retryDelay(f, 1, 0))).toEqual([250, 250, 250, 250, 250]);
    expect([0, 1, 2, 3, 10].map((f) => retryDelay(f, 5000, 1))).toEqual([250, 500, 1000, 2000, 5000]);
    expect([0, 1, 2].map((f) => retryDelay(f, 5000, 0))).toEqual([250, 250, 500]);
  });

  test("Retry-After is read in seconds or as a date", () => {
    const now = Date.parse("2025-02-12T10:00:00Z");
    expect([
      retryAfterMs("3", now),
      retryAfterMs("Wed, 12 Feb 2025 10:00:05 GMT", now),
      retryAfterMs("soon", now),
      retryAfterMs(null, now),
    ]).toEqual([3000, 5000, null, null]);
  });
});
