// Strøm's bodies as stroem-logs reads them: the job detail's fields, the status mapping, the log lines.
import { expect, test } from "bun:test";
import * as v from "valibot";
import { firstIssue, JobDetail, jobInfo, logLines, mapStatus } from "../../src/strom/body.ts";

test("Strøm's six statuses map to ours, and one it adds later counts as running, as Strøm treats it", () => {
  expect(
    ["pending", "running", "completed", "failed", "cancelled", "skipped", "paused"].map(mapStatus),
  ).toEqual([
    { status: "pending", terminal: false },
    { status: "running", terminal: false },
    { status: "completed", terminal: true },
    { status: "failed", terminal: true },
    { status: "cancelled", terminal: true },
    { status: "skipped", terminal: true },
    { status: "running", terminal: false },
  ]);
});

test("a job detail keeps Strøm's created_at text and its instant, and a bad field is named", () => {
  const body = {
    job_id: "0b7f3c1e-2a4d-4e5f-8a9b-0c1d2e3f4a5b",
    workspace: "infra",
    task_name: "deploy/eu",
    mode: "distributed",
    status: "failed",
    created_at: "2025-02-12T10:56:45.123456+00:00",
    completed_at: null,
  };
  expect(jobInfo(v.parse(JobDetail, body))).toEqual({
    id: body.job_id,
    workspace: "infra",
    task: "deploy/eu",
    createdAtText: "2025-02-12T10:56:45.123456+00:00",
    createdAt: new Date("2025-02-12T10:56:45.123Z"),
    status: "failed",
    stromStatus: "failed",
    terminal: true,
    completedAt: null,
  });
  const bad = v.safeParse(JobDetail, { ...body, created_at: "yesterday" });
  expect(bad.success ? "" : firstIssue(bad.issues)).toBe(
    'created_at: expected an RFC 3339 time (got "yesterday")',
  );
});

test("a log body's lines are its exact lines, blank ones and a trailing CR dropped", () => {
  expect(logLines('{"a":1}\n\n{"b":2}\r\n{"c":3}')).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
});
