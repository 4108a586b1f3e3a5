// What the archive refuses the registry: edits that would move an archived job's key, appends while its file is gone.
import { AppError, conflict } from "../errors.ts";
import type { ArchiveGuard } from "../jobs/registry.ts";
import type { ArchivesRepository } from "../state/types.ts";
import type { Restorer } from "./restore.ts";
import type { ArchiveTarget } from "./target.ts";

export function createGuards(deps: {
  archives: Pick<ArchivesRepository, "get">;
  target: ArchiveTarget;
  restorer: Restorer;
}): ArchiveGuard {
  const { archives, target, restorer } = deps;
  return {
    /** Refuses a late line while the local file is gone, and starts bringing it back from the archive. */
    async lateAppend(job) {
      const row = await archives.get(job.id);
      if (row === null || row.local_deleted === 0) return;
      void restorer.restore(job.id);
      throw new AppError(
        503,
        "restoring_local_log",
        `job ${job.id}: the local log was removed after archival and is being restored from ${target.locate(row.key)}; retry in a moment`,
        { "Retry-After": "1" },
      );
    },
    /** The archive key follows workspace, task and created_at: once uploaded, they are fixed. */
    async edit(job) {
      const row = await archives.get(job.id);
      if (row !== null && (row.uploaded_at !== null || row.state === "uploading")) {
        throw conflict(
          `job ${job.id} ${row.uploaded_at === null ? "is being archived" : "is archived"} at ${target.locate(row.key)}; its workspace, task and created_at can no longer change`,
          "archived",
        );
      }
    },
  };
}
