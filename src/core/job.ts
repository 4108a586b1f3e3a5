// The job as every module outside the state layer sees it: identity, lifecycle times and committed counts.
import type { JobStatus } from "../protocol/status.ts";

export interface Job {
  id: string;
  workspace: string;
  task: string;
  status: JobStatus;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  last_activity_at: number;
  error: string | null;
  /** Committed lines and bytes: the log's recorded end. */
  line_count: number;
  byte_count: number;
  /** Lines pushed after the job ended (a late final flush). */
  late_lines: number;
  /** When the terminal pipeline's completion work (hooks) finished; null while it has not. */
  settled_at: number | null;
}
