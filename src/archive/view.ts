// The archive as the API shows it: the `archive` field of a job, and the `archive` section of /api/stats.
import { iso } from "../core/time.ts";
import type { ArchiveRow } from "../state/types.ts";

export function archiveView(row: ArchiveRow | null): Record<string, unknown> {
  if (row === null) return { archive: null };
  return {
    archive: {
      state: row.state,
      key: row.key,
      attempts: row.attempts,
      last_error: row.last_error,
      uploaded_at: iso(row.uploaded_at),
      bytes: row.bytes,
      sha256: row.sha256,
      log_bytes: row.log_bytes,
      next_attempt_at: row.state === "retrying" ? iso(row.next_attempt_at) : null,
      local_deleted: row.local_deleted === 1,
    },
  };
}
