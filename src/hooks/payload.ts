// What a hook receives and how its URL appears in messages (pure).

import type { Job } from "../core/job.ts";
import { iso } from "../core/time.ts";

export interface HookPayload {
  event: "job.finished";
  id: string;
  workspace: string;
  task: string;
  status: string;
  error: string | null;
  created_at: string;
  finished_at: string | null;
  lines: number;
  bytes: number;
  late_lines: number;
}

export function hookPayload(job: Job): HookPayload {
  return {
    event: "job.finished",
    id: job.id,
    workspace: job.workspace,
    task: job.task,
    status: job.status,
    error: job.error,
    created_at: iso(job.created_at),
    finished_at: iso(job.finished_at),
    lines: job.line_count,
    bytes: job.byte_count,
    late_lines: job.late_lines,
  };
}

/** The URL without user and password: messages land in job logs that many people read. */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return "(invalid url)";
  }
}
