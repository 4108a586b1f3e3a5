// The stale-job sweep: a running job with no push and no heartbeat for `staleAfter` is failed.
import { formatDuration } from "../config/units.ts";
import type { Events } from "../events.ts";
import type { Logger } from "../log.ts";
import type { JobsRepository } from "../state/types.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Registry } from "./registry.ts";

export interface RecoveryOptions {
  jobs: Pick<JobsRepository, "stale">;
  registry: Pick<Registry, "event">;
  lifecycle: Pick<Lifecycle, "complete">;
  events: Events;
  log: Logger;
  staleAfter: number;
  interval: number;
  /**
   * Asked before a quiet job is failed; true leaves it alone. Strøm mode: a job whose end only Strøm knows
   * (strom/sync.ts) is never failed by silence.
   */
  spare?: ((id: string) => Promise<boolean>) | null;
  clock?: () => number;
}

export function createRecovery(opts: RecoveryOptions) {
  const clock = opts.clock ?? Date.now;
  // Workers cannot push while the server is down: their silence counts only from the server's start.
  const startedAt = clock();
  let timer: ReturnType<typeof setInterval> | null = null;
  let running: Promise<string[]> | null = null;

  /** Fails every stale running job (event, then completion: hooks and archive follow); returns their ids. */
  async function run(now: number): Promise<string[]> {
    const cutoff = now - opts.staleAfter;
    if (startedAt > cutoff) return [];
    const failed: string[] = [];
    for (const row of await opts.jobs.stale(cutoff)) {
      if (row.status !== "running") continue;
      if (opts.spare && (await spared(row.id))) {
        opts.events.emit("recovery.spared", { job: row.id });
        continue;
      }
      const reason = `no activity from workers for ${formatDuration(opts.staleAfter)}`;
      try {
        await opts.registry.event(row.id, `[recovery] ${reason}; marking job failed`);
        await opts.lifecycle.complete(row.id, "failed", reason);
        failed.push(row.id);
        opts.events.emit("recovery.failed", { job: row.id, reason });
      } catch (e) {
        opts.log.warn(`recovery: job ${row.id}: could not mark it failed: ${(e as Error).message}`);
        opts.events.emit("recovery.error", { job: row.id, error: (e as Error).message });
      }
    }
    if (failed.length > 0)
      opts.log.warn(`recovery: ${failed.length} stale jobs marked failed: ${failed.join(", ")}`);
    return failed;
  }

  async function spared(id: string): Promise<boolean> {
    try {
      return await opts.spare!(id);
    } catch (e) {
      // A question that failed is no answer: the job is left alone until it can be asked.
      opts.log.warn(`recovery: job ${id}: could not ask whether to spare it: ${(e as Error).message}`);
      return true;
    }
  }

  /** One sweep as of `now`; a sweep already running is joined (a slow one never overlaps the next tick). */
  function sweep(now = clock()): Promise<string[]> {
    running ??= run(now).finally(() => {
      running = null;
    });
    return running;
  }

  return {
    sweep,
    start(): void {
      timer ??= setInterval(() => void sweep(), opts.interval);
    },
    async stop(): Promise<void> {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
