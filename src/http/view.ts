// The job as the API shows it: ISO times, counts, and what plug-ins (the archive) add.
import { iso } from "../core/time.ts";
import type { JobRow } from "../jobs/db.ts";

export type JobExtra = (job: JobRow) => Record<string, unknown>;

export function jobView(job: JobRow, extras: readonly JobExtra[] = []): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: job.id,
    workspace: job.workspace,
    task: job.task,
    status: job.status,
    error: job.error,
    created_at: iso(job.created_at),
    updated_at: iso(job.updated_at),
    finished_at: iso(job.finished_at),
    last_activity_at: iso(job.last_activity_at),
    lines: job.line_count,
    bytes: job.byte_count,
    late_lines: job.late_lines,
    settled: job.settled_at !== null,
  };
  for (const extra of extras) Object.assign(view, extra(job));
  return view;
}
