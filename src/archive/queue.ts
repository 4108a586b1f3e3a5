// The archive queue's timing: one timer per job, at most `concurrency` attempts at once, an attempt per job at a time.

export interface QueueOptions {
  /** Runs one attempt for the job; resolves with when to try again (ms), or null when there is nothing left. */
  attempt(id: string, signal: AbortSignal): Promise<number | null>;
  concurrency: number;
}

export type Queue = ReturnType<typeof createQueue>;

export function createQueue(opts: QueueOptions) {
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const running = new Map<string, Promise<void>>();
  const aborts = new Set<AbortController>();
  const waiting: Array<() => void> = [];
  let active = 0;
  let stopped = false;

  /** At most `concurrency` attempts at once; the rest wait their turn. */
  async function slot<T>(fn: () => Promise<T>): Promise<T> {
    if (active >= opts.concurrency) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  }

  /** Starts an attempt now, unless one runs (it re-checks the committed size when it ends). */
  function run(id: string): void {
    if (running.has(id) || stopped) return;
    const p = slot(async () => {
      const abort = new AbortController();
      aborts.add(abort);
      try {
        const again = await opts.attempt(id, abort.signal);
        if (again !== null) schedule(id, again);
      } finally {
        aborts.delete(abort);
      }
    }).finally(() => running.delete(id));
    running.set(id, p);
  }

  /** An attempt for the job in `delay` ms (replacing one already timed). */
  function schedule(id: string, delay: number): void {
    if (stopped) return;
    const prev = timers.get(id);
    if (prev !== undefined) clearTimeout(prev);
    timers.set(
      id,
      setTimeout(
        () => {
          timers.delete(id);
          run(id);
        },
        Math.max(0, delay),
      ),
    );
  }

  return {
    run,
    schedule,
    get stopped() {
      return stopped;
    },
    /** True while an attempt for this job runs. */
    running: (id: string): boolean => running.has(id),
    /** Resolves once no attempt runs. */
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.allSettled([...running.values()]);
    },
    /** No new attempts; running ones are aborted (their job stays queued for the next start). */
    async stop(): Promise<void> {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      for (const a of aborts) a.abort();
      await Promise.allSettled([...running.values()]);
    },
  };
}
