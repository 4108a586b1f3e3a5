import { describe, expect, test } from "bun:test";
import {
  accessOf,
  createTokens,
  describeTokenChange,
  isLoopback,
  swappableTokens,
} from "../../src/auth/tokens.ts";

describe("tokens", () => {
  test("routes are classed deny-by-default: health open, other GETs read, /worker/ and every other method write", () => {
    expect([
      accessOf("GET", "/healthz"),
      accessOf("GET", "/readyz"),
      accessOf("POST", "/healthz"),
      accessOf("GET", "/api/jobs/j/logs"),
      accessOf("GET", "/api/jobs/j/logs/stream"),
      accessOf("GET", "/anything/else"),
      accessOf("PUT", "/api/jobs/j"),
      accessOf("POST", "/api/jobs"),
      accessOf("POST", "/api/jobs/j/events"),
      accessOf("POST", "/worker/jobs/j/logs"),
      accessOf("GET", "/worker/jobs/j/anything"),
      accessOf("DELETE", "/somewhere"),
    ]).toEqual([
      "open",
      "open",
      "write",
      "read",
      "read",
      "read",
      "write",
      "write",
      "write",
      "write",
      "write",
      "write",
    ]);
  });

  test("the worker token reads and writes; a read token only reads; anything else is wrong", () => {
    const t = createTokens("w-secret", ["r-1", "r-2"]);
    expect([
      t.check("write", "w-secret"),
      t.check("read", "w-secret"),
      t.check("read", "r-2"),
      t.check("write", "r-1"),
      t.check("read", "w-secre"),
      t.check("read", null),
      t.check("write", ""),
      t.check("open", null),
    ]).toEqual(["ok", "ok", "ok", "wrong", "wrong", "missing", "missing", "ok"]);
  });

  test("GET /metrics needs the metrics token or a read token; the metrics token reads and writes nothing else", () => {
    const t = createTokens("w", ["r"], ["m"]);
    expect([
      accessOf("GET", "/metrics"),
      accessOf("HEAD", "/metrics"),
      accessOf("POST", "/metrics"),
      t.check("metrics", "m"),
      t.check("metrics", "r"),
      t.check("metrics", "w"),
      t.check("metrics", "x"),
      t.check("read", "m"),
      t.check("write", "m"),
    ]).toEqual(["metrics", "metrics", "write", "ok", "ok", "ok", "wrong", "wrong", "wrong"]);
  });

  test("with no token configured everything is open", () => {
    const t = createTokens(undefined, []);
    expect([t.enabled, t.check("write", null)]).toEqual([false, "ok"]);
  });

  test("loopback addresses are recognised", () => {
    expect(
      ["127.0.0.1", "127.3.4.5", "::1", "localhost", "0.0.0.0", "10.0.0.1", "::"].map(isLoopback),
    ).toEqual([true, true, true, true, false, false, false]);
  });

  test("a token change is described by counts, never by the tokens", () => {
    const before = createTokens("w1", ["r1", "r2"]);
    expect([
      describeTokenChange(before, createTokens("w1", ["r1", "r2"])),
      describeTokenChange(before, createTokens("w2", ["r2", "r3", "r4"], ["m"])),
      describeTokenChange(before, createTokens(undefined, [])),
    ]).toEqual([
      [],
      [
        "worker token changed",
        "read tokens: 2 → 3 (2 added, 1 removed)",
        "metrics tokens: 0 → 1 (1 added, 0 removed)",
      ],
      ["auth turned off", "worker token removed", "read tokens: 2 → 0 (0 added, 2 removed)"],
    ]);
  });

  test("swapped tokens take effect on the next check", () => {
    const t = swappableTokens(createTokens("w", ["old"]));
    expect(t.check("read", "old")).toBe("ok");
    t.swap(createTokens("w", ["new"]));
    expect([t.check("read", "old"), t.check("read", "new"), t.enabled]).toEqual(["wrong", "ok", true]);
  });
});
