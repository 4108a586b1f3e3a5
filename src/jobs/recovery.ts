// The stale-job sweep: a running job with no push and no heartbeat for `staleAfter` is failed.
import { formatDuration } from "../config/units.ts";
import type { Logger } from "../log.ts";
import type { Db } from "./db.ts";
import type { Jobs } from "./registry.ts";

export interface RecoveryOptions {
  db: Db;
  jobs: Jobs;
  log: Logger;
  staleAfter: number;
  interval: number;
  clock?: () => number;
}

export function createRecovery(opts: RecoveryOptions) {
  const clock = opts.clock ?? Date.now;
  // Workers cannot push while the server is down: their silence counts only from the server's start.
  const startedAt = clock();
  let timer: ReturnType<typeof setInterval> | null = null;

  /** Fails every stale running job (event, then completion: hooks and archive follow); returns their ids. */
  function sweep(now = clock()): string[] {
    const cutoff = now - opts.staleAfter;
    if (startedAt > cutoff) return [];
    const failed: string[] = [];
    for (const row of opts.db.q.stale.all(cutoff)) {
      if (row.status !== "running") continue;
      const reason = `no activity from workers for ${formatDuration(opts.staleAfter)}`;
      try {
        opts.jobs.event(row.id, `[recovery] ${reason}; marking job failed`);
        opts.jobs.complete(row.id, "failed", reason);
        failed.push(row.id);
      } catch (e) {
        opts.log.warn(`recovery: job ${row.id}: could not mark it failed: ${(e as Error).message}`);
      }
    }
    if (failed.length > 0)
      opts.log.warn(`recovery: ${failed.length} stale jobs marked failed: ${failed.join(", ")}`);
    return failed;
  }

  return {
    sweep,
    start(): void {
      timer ??= setInterval(() => sweep(), opts.interval);
    },
    stop(): void {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}
