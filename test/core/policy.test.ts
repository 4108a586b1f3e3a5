// The retention rules as pure functions: which cutoff applies, with and without an archive.
import { describe, expect, test } from "bun:test";
import { DAY_MS, describe as explain, plan } from "../../src/core/policy.ts";

const NOW = Date.parse("2025-03-01T00:00:00Z");

describe("retention plan", () => {
  test("with an archive, local_days frees local files and archive_days deletes jobs whole", () => {
    expect(plan({ local_days: 7, archive_days: 90 }, true, NOW)).toEqual({
      localBefore: NOW - 7 * DAY_MS,
      expireBefore: NOW - 90 * DAY_MS,
    });
  });

  test("without an archive, local_days deletes jobs whole and archive_days does nothing", () => {
    expect([
      plan({ local_days: 0.5, archive_days: 90 }, false, NOW),
      plan({ archive_days: 90 }, false, NOW),
    ]).toEqual([
      { localBefore: null, expireBefore: NOW - DAY_MS / 2 },
      { localBefore: null, expireBefore: null },
    ]);
  });

  test("the start-up log says what each rule does, and why one cannot act", () => {
    expect([
      explain({ local_days: 7, archive_days: 90 }, true),
      explain({ local_days: 1, archive_days: 90 }, false),
    ]).toEqual([
      [
        "local files of jobs ended over 7d ago are deleted once their archive is verified",
        "jobs ended over 90d ago are deleted: archive object, job row, local file",
      ],
      [
        "no archive is configured: jobs ended over 1d ago are deleted whole (local file and job row)",
        "archive_days is set but no archive is configured: it deletes nothing",
      ],
    ]);
  });
});
