// Keeping a job alive while its step runs: heartbeats well inside the server's `recovery.stale_after`.
import { STALE_AFTER_HEADER } from "../protocol/heartbeat.ts";

/** Until the server has told its `stale_after` (or when it does not say): safe for any stale_after ≥ 30 s. */
export const UNTOLD_INTERVAL_MS = 10_000;

/**
 * A third of `stale_after` (null: not told), between 1 s and 60 s: even right after a skipped beat the job is
 * touched within two thirds of it, and a heartbeat never makes more than one request a second.
 */
export function heartbeatInterval(staleAfterMs: number | null): number {
  if (staleAfterMs === null || !Number.isFinite(staleAfterMs) || staleAfterMs <= 0) return UNTOLD_INTERVAL_MS;
  return Math.min(60_000, Math.max(1000, Math.floor(staleAfterMs / 3)));
}

export interface HeartbeatOptions {
  base: string;
  headers: Record<string, string>;
  job: string;
  requestTimeoutMs: number;
  /** When the server last accepted a request of ours (which touched the job already); -Infinity if never. */
  lastAccepted: () => number;
  report: (message: string) => void;
  clock?: () => number;
}

/**
 * Beats at once (to learn the interval), then every interval unless a push was accepted within it. A failed
 * beat is not retried — the next one is the retry; a 404 is a job that has no line yet, which recovery
 * leaves alone anyway.
 */
export function startHeartbeat(opts: HeartbeatOptions) {
  const clock = opts.clock ?? Date.now;
  const url = `${opts.base}/worker/jobs/${encodeURIComponent(opts.job)}/heartbeat`;
  const abort = new AbortController();
  let interval = heartbeatInterval(null);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let warned = false;

  async function beat(): Promise<void> {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: opts.headers,
        signal: AbortSignal.any([
          abort.signal,
          AbortSignal.timeout(Math.min(opts.requestTimeoutMs, interval)),
        ]),
      });
      await res.arrayBuffer();
      const told = res.headers.get(STALE_AFTER_HEADER);
      if (told !== null) interval = heartbeatInterval(Number(told));
      if (res.status >= 400 && res.status < 500 && res.status !== 404 && !warned) {
        warned = true;
        opts.report(
          `heartbeat for job ${opts.job} refused (${res.status}): the server may fail the job as stale while the step is quiet`,
        );
      }
    } catch {}
  }

  async function tick(): Promise<void> {
    if (clock() - opts.lastAccepted() >= interval) await beat();
    if (!stopped) timer = setTimeout(() => void tick(), interval);
  }

  void beat().then(() => {
    if (!stopped) timer = setTimeout(() => void tick(), interval);
  });

  return {
    /** The interval in use (learnt from the server, or the untold default). */
    get intervalMs() {
      return interval;
    },
    stop(): void {
      stopped = true;
      abort.abort();
      if (timer !== null) clearTimeout(timer);
    },
  };
}
