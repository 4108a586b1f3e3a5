// Strøm's answers as stroem-logs reads them: valibot schemas of its bodies and the mapping of its job statuses.
import * as v from "valibot";

/** stroem-logs' job statuses (Strøm's own six: models/job.rs:9-16 in fremvaerk/stroem v0.15.26). */
export type Status = "pending" | "running" | "completed" | "failed" | "cancelled" | "skipped";
export const STROM_TERMINAL = ["completed", "failed", "cancelled", "skipped"] as const;

/** What stroem-logs needs of a Strøm job: the archive key's parts and the job's end. */
export interface StromJobInfo {
  id: string;
  workspace: string;
  task: string;
  /** Strøm's `created_at` as it printed it (`…123456+00:00`), and as a Date (the archive key's time). */
  createdAtText: string;
  createdAt: Date;
  /** Mapped to ours; a status Strøm adds later is `running` (Strøm itself treats unknown ones as not terminal). */
  status: Status;
  /** Strøm's own word, kept for messages. */
  stromStatus: string;
  terminal: boolean;
  completedAt: Date | null;
}

// chrono's to_rfc3339(): `+00:00` (or any offset), 0-9 fraction digits; `Z` accepted too.
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

const Time = v.pipe(
  v.string("expected an RFC 3339 time"),
  v.regex(RFC3339, (i) => `expected an RFC 3339 time (got ${i.received})`),
  v.check((s) => !Number.isNaN(Date.parse(s)), "expected a valid date"),
);

const Text = v.pipe(v.string("expected a non-empty string"), v.nonEmpty("expected a non-empty string"));

/** JobDetailResponse (crates/stroem-server/src/web/api/jobs.rs:257-281): only the fields read; others pass. */
export const JobDetail = v.looseObject({
  job_id: Text,
  workspace: Text,
  task_name: Text,
  status: Text,
  created_at: Time,
  completed_at: v.optional(v.nullable(Time), null),
});

/** The log reads' body (`{"logs": "<jsonl>"}`, jobs.rs:555-623). */
export const LogsBody = v.looseObject({ logs: v.string("expected a string") });

/** Strøm's error body (web/error.rs:40-79). */
export const ErrorBody = v.looseObject({ error: v.string() });

export function mapStatus(strom: string): { status: Status; terminal: boolean } {
  if ((STROM_TERMINAL as readonly string[]).includes(strom))
    return { status: strom as Status, terminal: true };
  return { status: strom === "pending" ? "pending" : "running", terminal: false };
}

export function jobInfo(detail: v.InferOutput<typeof JobDetail>): StromJobInfo {
  const { status, terminal } = mapStatus(detail.status);
  return {
    id: detail.job_id,
    workspace: detail.workspace,
    task: detail.task_name,
    createdAtText: detail.created_at,
    createdAt: new Date(detail.created_at),
    status,
    stromStatus: detail.status,
    terminal,
    completedAt: detail.completed_at === null ? null : new Date(detail.completed_at),
  };
}

/** A log body's lines as Strøm's `str::lines()` gives them: exact text, blank lines dropped, a trailing \r cut. */
export { textLines as logLines } from "../core/union.ts";

/** `path: message` of valibot's first issue, for an error that names what in Strøm's body was wrong. */
export function firstIssue(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  if (issue === undefined) return "invalid body";
  const path = issue.path?.map((p) => String(p.key)).join(".");
  const message = issue.received === "undefined" ? "missing" : issue.message;
  return path ? `${path}: ${message}` : message;
}
