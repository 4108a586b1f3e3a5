// The job as the API shows it: ISO times, counts, and what other modules (the archive) add.
import type { Job } from "../core/job.ts";
import { iso } from "../core/time.ts";

/** Fields another module adds to a job's view (the archive's `archive`). */
export type JobExtra = (job: Job) => Promise<Record<string, unknown>>;

export async function jobView(job: Job, extras: readonly JobExtra[] = []): Promise<Record<string, unknown>> {
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
  for (const extra of extras) Object.assign(view, await extra(job));
  return view;
}
