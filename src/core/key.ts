// Archive object keys: `{prefix}{workspace}/{task}/YYYY/MM/DD/YYYY-MM-DDTHH-MM-SS_{job_id}.jsonl.gz` (pure).
import { iso } from "./time.ts";

export interface KeyFields {
  id: string;
  workspace: string;
  task: string;
  /** Epoch milliseconds; the key uses its UTC calendar date and time. */
  created_at: number;
}

/** The object key of a job's archive. Task names keep their `/` and `:` as they are (Strøm's layout). */
export function archiveKey(prefix: string, job: KeyFields): string {
  const at = iso(job.created_at); // 2025-02-12T10:56:45.123Z
  const day = at.slice(0, 10);
  const time = at.slice(11, 19).replaceAll(":", "-");
  return `${prefix}${job.workspace}/${job.task}/${day.replaceAll("-", "/")}/${day}T${time}_${job.id}.jsonl.gz`;
}
