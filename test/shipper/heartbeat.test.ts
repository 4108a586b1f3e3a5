import { describe, expect, test } from "bun:test";
import { heartbeatInterval, UNTOLD_INTERVAL_MS } from "../../src/shipper/heartbeat.ts";

describe("heartbeat interval", () => {
  test("a third of stale_after, at least 1 s and at most 60 s; untold or nonsense gets the default", () => {
    expect([3000, 300, 90_000, 15 * 60_000, 1].map(heartbeatInterval)).toEqual([
      1000, 1000, 30_000, 60_000, 1000,
    ]);
    expect([null, 0, -5, Number.NaN].map(heartbeatInterval)).toEqual(Array(4).fill(UNTOLD_INTERVAL_MS));
  });
});
