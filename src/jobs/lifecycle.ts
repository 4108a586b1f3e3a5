// A job's end, in order: complete → size-cap window into the log → hooks → settled → archive queue.
import { backoff } from "../core/backoff.ts";
import type { Job } from "../core/job.ts";
import { conflict } from "../errors.ts";
import type { Events } from "../events.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import { isTerminal, type TerminalStatus } from "../protocol/status.ts";
import type { JobsRepository } from "../state/types.ts";
import type { Cap } from "./cap.ts";
import type { Registry } from "./registry.ts";

export interface LifecycleOptions {
  registry: Registry;
  jobs: Pick<JobsRepository, "finish" | "settle" | "unsettled">;
  store: LogStore;
  events: Events;
  cap?: Cap | null;
  /** The job-end hooks (hooks/hooks.ts); their failures become server events, never stop the job's end. */
  hooks?: ((job: Job) => Promise<void>) | null;
  /** The archive's queue: a settled job is recorded there before its first upload. */
  archive?: { enqueue(job: Job): Promise<void> } | null;
  log?: Logger;
  clock?: () => number;
}

export type Lifecycle = ReturnType<typeof createLifecycle>;

export function createLifecycle(opts: LifecycleOptions) {
  const { registry, jobs, store, events } = opts;
  const clock = opts.clock ?? Date.now;
  const cap = opts.cap ?? null;
  const settling = new Map<string, Promise<void>>();

  /**
   * Appends the size-cap window, retrying with backoff until it is in the log: a job is never settled (and
   * so never archived or closed to viewers) with acknowledged lines still held back.
   */
  async function releaseWindow(id: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await cap!.release(id, {
          event: (message, window) =>
            registry.withJob(id, async (job) => {
              await registry.eventIn(job, message, null, window);
            }),
          append: (text, lines, window) => registry.appendWindow(id, text, lines, window),
        });
        events.emit("cap.released", { job: id, ...r });
        return;
      } catch (e) {
        if (attempt === 0)
          await registry.note(
            id,
            `[limits] appending the size-cap window failed: ${(e as Error).message}; retrying`,
          );
        await Bun.sleep(backoff(attempt + 1, { initial: 500, max: 60_000 }));
      }
    }
  }

  /** Runs the completion work of a terminal job (the size-cap window, then hooks), then marks it settled. */
  function settle(job: Job): Promise<void> {
    const running = settling.get(job.id);
    if (running) return running;
    const p = (async () => {
      // The window joins the log before hooks run, so they, the stream and the archive see it.
      if (cap?.mayHave(job.id) && (await cap.started(job.id))) await releaseWindow(job.id);
      if (opts.hooks) {
        try {
          await opts.hooks(job);
        } catch (e) {
          await registry.note(job.id, `[server] completion step failed: ${(e as Error).message}`);
        }
      }
      const settled = await registry.exclusive(job.id, async () => {
        const s = await jobs.settle(job.id, clock());
        events.emit("settled", { job: s });
        return s;
      });
      await opts.archive?.enqueue(settled);
    })()
      // Never an unhandled rejection (it would end the process): the job stays unsettled and is settled
      // again at the next start.
      .catch((e) => opts.log?.error(`job ${job.id}: settling failed`, e))
      .finally(() => settling.delete(job.id));
    settling.set(job.id, p);
    return p;
  }

  return {
    /** Ends a job with `status`; the same status again changes nothing, another one is a 409. */
    async complete(
      id: string,
      status: TerminalStatus,
      error: string | null,
    ): Promise<{ job: Job; changed: boolean }> {
      const r = await registry.withJob(id, async (job) => {
        if (isTerminal(job.status)) {
          if (job.status === status) return { job, changed: false };
          throw conflict(
            `job ${id} already ended as ${job.status}; cannot mark it ${status}`,
            "already_finished",
          );
        }
        // The error is stored beside the log and read back with the job: masked like a line of it.
        const done = await jobs.finish(
          id,
          status,
          error === null ? null : registry.masked(id, error),
          clock(),
        );
        store.close(id);
        events.emit("terminal", { job: done });
        return { job: done, changed: true };
      });
      if (r.changed) void settle(r.job);
      return r;
    },
    settle,
    /** Terminal jobs whose completion work did not finish (a restart in between) are settled again. */
    async resumeUnsettled(): Promise<void> {
      await Promise.all((await jobs.unsettled()).map(settle));
    },
    /** Waits for every running settle (graceful shutdown, tests). */
    idle: async (): Promise<void> => {
      while (settling.size > 0) await Promise.all([...settling.values()]);
    },
  };
}
