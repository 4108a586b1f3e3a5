// Job-end hooks: a JSON POST to each matching URL, retried with backoff; a failure becomes a server event.
import { formatDuration } from "../config/units.ts";
import { backoff } from "../core/backoff.ts";
import type { Job } from "../core/job.ts";
import type { Events } from "../events.ts";
import type { Logger } from "../log.ts";
import type { TerminalStatus } from "../protocol/status.ts";
import { VERSION } from "../version.ts";
import { hookPayload, publicUrl } from "./payload.ts";

export interface HookConfig {
  url: string;
  on: readonly TerminalStatus[];
  /** Per attempt, in milliseconds. */
  timeout: number;
  headers: Record<string, string>;
  /** Attempts after the first. */
  retries: number;
  /** Wait before the first retry; doubles each time. */
  backoff: number;
}

export interface HooksOptions {
  /** The hooks, read at each job end (a SIGHUP reload swaps them). */
  hooks: () => readonly HookConfig[];
  /** Writes a server event on the job (`registry.event`). */
  event: (jobId: string, message: string) => Promise<unknown>;
  /** The text as the job's log holds it (its registered secrets masked), for the service log. */
  masked?: (jobId: string, text: string) => string;
  events: Events;
  log: Logger;
  clock?: () => number;
}

/** Returns the completion step that fires every matching hook of a terminal job, in parallel. */
export function createHooks(opts: HooksOptions): (job: Job) => Promise<void> {
  const clock = opts.clock ?? Date.now;
  return async (job) => {
    const matching = opts.hooks().filter((h) => (h.on as readonly string[]).includes(job.status));
    await Promise.all(
      matching.map(async (hook) => {
        const started = clock();
        const r = await deliver(hook, JSON.stringify(hookPayload(job)));
        const url = publicUrl(hook.url);
        const ms = clock() - started;
        if (r.failure === null) {
          opts.events.emit("hook.delivered", { job: job.id, url, attempts: r.attempts, ms });
          return;
        }
        const message = `[hooks] hook ${url} failed: ${r.failure}`;
        opts.log.warn(`job ${job.id}: ${opts.masked?.(job.id, message) ?? message}`);
        await opts.event(job.id, message);
        opts.events.emit("hook.failed", { job: job.id, url, why: r.failure, attempts: r.attempts, ms });
      }),
    );
  };
}

/** Posts `body` until a 2xx; `failure` null on success, else why the last attempt failed. */
async function deliver(
  hook: HookConfig,
  body: string,
): Promise<{ failure: string | null; attempts: number }> {
  const attempts = hook.retries + 1;
  let why = "";
  let i = 0;
  for (; i < attempts; i++) {
    if (i > 0) await Bun.sleep(backoff(i, { initial: hook.backoff, max: Number.POSITIVE_INFINITY }));
    const r = await postOnce(hook, body);
    if (r.ok) return { failure: null, attempts: i + 1 };
    why = r.why;
    if (!r.retry) break;
    if (i === attempts - 1 && attempts > 1) why += ` (${attempts} attempts)`;
  }
  return { failure: why, attempts: Math.min(i + 1, attempts) };
}

async function postOnce(
  hook: HookConfig,
  body: string,
): Promise<{ ok: true } | { ok: false; why: string; retry: boolean }> {
  try {
    const res = await fetch(hook.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": `stroem-logs/${VERSION}`,
        ...hook.headers,
      },
      body,
      signal: AbortSignal.timeout(hook.timeout),
    });
    await res.body?.cancel().catch(() => {});
    if (res.ok) return { ok: true };
    // 4xx other than 408/429 will not change on a retry.
    const retry = res.status >= 500 || res.status === 408 || res.status === 429;
    return { ok: false, why: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`, retry };
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.name === "TimeoutError" || err.name === "AbortError") {
      return { ok: false, why: `no response within ${formatDuration(hook.timeout)}`, retry: true };
    }
    return { ok: false, why: `connection failed: ${err.code ?? err.message}`, retry: true };
  }
}
