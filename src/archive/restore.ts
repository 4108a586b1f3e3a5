// Brings back the local file of an archived job (removed after archival) so a late line can append to it.
import { open, rename, rm } from "node:fs/promises";
import type { Events } from "../events.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import type { ArchivesRepository } from "../state/types.ts";
import { type ArchiveTarget, reason } from "./target.ts";
import { gunzip } from "./tier.ts";

export type Restorer = ReturnType<typeof createRestorer>;

export function createRestorer(opts: {
  archives: Pick<ArchivesRepository, "get" | "setLocalDeleted">;
  store: LogStore;
  target: ArchiveTarget;
  log: Logger;
  events: Events;
}) {
  const { archives, store, target, log, events } = opts;
  const restoring = new Map<string, Promise<void>>();

  function restore(id: string): Promise<void> {
    const running = restoring.get(id);
    if (running) return running;
    const p = (async () => {
      const row = await archives.get(id);
      if (!row || row.local_deleted === 0) return;
      const path = store.jsonlPath(id);
      const tmp = `${path}.restoring-${crypto.randomUUID().slice(0, 8)}`;
      const fh = await open(tmp, "w");
      try {
        try {
          const body = await target.get(row.key, "archiver");
          const why = (w: string) =>
            new Error(`restoring the local log of job ${id} from ${target.locate(row.key)}: ${w}`);
          for await (const chunk of gunzip(body, row.log_bytes, why)) {
            let written = 0;
            while (written < chunk.length) written += (await fh.write(chunk, written)).bytesWritten;
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
        // Appends stay refused until the row says the file is back, so none lands on the file being replaced.
        await rename(tmp, path);
        await archives.setLocalDeleted(id, false);
        log.info(`archive: job ${id}: local log restored from ${target.locate(row.key)} for a late line`);
        events.emit("archive.restored", { job: id });
      } catch (e) {
        await rm(tmp, { force: true });
        log.warn(`archive: job ${id}: ${reason(e)}`);
        events.emit("archive.restore_failed", { job: id, error: reason(e) });
      }
    })().finally(() => restoring.delete(id));
    restoring.set(id, p);
    return p;
  }

  return {
    restore,
    /** True while a restore of this job runs. */
    running: (id: string): boolean => restoring.has(id),
    async idle(): Promise<void> {
      while (restoring.size > 0) await Promise.allSettled([...restoring.values()]);
    },
  };
}
