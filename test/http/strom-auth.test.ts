import { expect, test } from "bun:test";
import { isStromCredential, stromReadTarget } from "../../src/http/strom-auth.ts";

test("Strøm credentials are recognised by their form: a strm_ key of 32 hex digits, or a JWT", () => {
  expect(
    [
      "strm_0123456789abcdef0123456789abcdef",
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
      "strm_short",
      "a-stroem-logs-read-token",
      "a.b",
    ].map(isStromCredential),
  ).toEqual([true, true, false, false, false]);
});

test("only reads of one job's paths are Strøm's to authorise", () => {
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
  expect([
    stromReadTarget("GET", "/api/jobs/j1/logs", jwt),
    stromReadTarget("HEAD", "/api/jobs/j1/steps/a b/logs", jwt),
    stromReadTarget("GET", "/api/jobs/j1/logs/stream", jwt),
    stromReadTarget("GET", "/api/jobs/j1", jwt),
    stromReadTarget("GET", "/api/jobs", jwt),
    stromReadTarget("POST", "/api/jobs/j1/events", jwt),
    stromReadTarget("GET", "/api/jobs/j1/logs", "my-read-token"),
    stromReadTarget("GET", "/api/jobs/j1/logs", null),
  ]).toEqual(["j1", "j1", "j1", null, null, null, null, null]);
});
