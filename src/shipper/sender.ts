// The one sequential sender of a (job, step): cuts batches from the spool, posts them, retries until delivered.
import { hostname } from "node:os";
import { type ErrorBody, errorOfText } from "../protocol/error-body.ts";
import {
  backoffDelay,
  bodyPrefix,
  buildBody,
  envelopeBytes,
  MIN_RETRY_MS,
  retryAfterMs,
  retryable,
  retryDelay,
} from "./batch.ts";
import { type Batch, type DropReport, type Spool, SpoolStateError } from "./spool.ts";

export interface SenderOptions {
  spool: Spool;
  /** Server base URL without a trailing slash, and the headers every request carries (authorization). */
  base: string;
  headers: Record<string, string>;
  job: string;
  step: string;
  /**
   * The shortest gap between the starts of two pushes (0: none). Batching itself needs no timer: a batch is
   * cut the moment no push is in flight, so lines wait only for the push before theirs (Nagle's rule, with
   * the request in flight as the timer) and batches grow by themselves when the server or the disk is slow.
   */
  flushIntervalMs: number;
  /** Upper bound of one request body (the server's `limits.max_body_bytes`); halved on a 413, down to a line. */
  maxBodyBytes: number;
  requestTimeoutMs: number;
  retryBaseMs?: number;
  retryMaxMs: number;
  /** Spool bound, named in the drop event. */
  spoolMax: number;
  /** One line for the operator (stderr). */
  report: (message: string) => void;
  clock?: () => number;
}

export interface SenderStats {
  /** Lines the server acknowledged (including ones it already had: `duplicate`). */
  delivered: number;
  /** Lines the server refused for good (a 4xx): they will never be written. */
  lost: number;
  /**
   * Set when delivery stopped on a refusal that no retry or split can cure (credentials refused, a line over
   * the body limit, a job past its cap): the spool keeps the lines.
   */
  refused: string | null;
}

export type Sender = ReturnType<typeof createSender>;

export function createSender(opts: SenderOptions) {
  const { spool, job, step } = opts;
  const clock = opts.clock ?? Date.now;
  const retryBaseMs = opts.retryBaseMs ?? MIN_RETRY_MS;
  const prefix = bodyPrefix(step);
  const url = `${opts.base}/worker/jobs/${encodeURIComponent(job)}/logs`;
  const stats: SenderStats = { delivered: 0, lost: 0, refused: null };
  let cap = opts.maxBodyBytes;
  let closed = false;
  let stopped = false;
  const abort = new AbortController();
  // When the last batch was cut: the next one is cut no sooner than `flushIntervalMs` after it, unless the
  // last one was full and left lines behind (they are overdue already).
  let lastCutAt = Number.NEGATIVE_INFINITY;
  let leftBehind = false;
  let failingSince: number | null = null;
  // Every request waits until `notBefore`: after a failed or refused one, 250 ms doubling to --retry-max, so
  // no answer of the server (a 413 loop, a 400 for every batch, a 500) makes more than 4 requests a second.
  let failures = 0;
  let notBefore = 0;
  // When the server last accepted a request (it touched the job: no heartbeat is needed for a while).
  let acceptedAt = Number.NEGATIVE_INFINITY;
  // While the spool cannot record a batch before it is sent: since when, and how many tries.
  let unrecordedSince: number | null = null;
  let unrecordedTries = 0;
  // What the loop sleeps for: new lines (idle), a batch to fill (linger), or a retry (backoff).
  type Nap = "idle" | "linger" | "backoff";
  let napping: { kind: Nap; wake: () => void } | null = null;

  function sleep(kind: Nap, ms: number | null): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = ms === null ? null : setTimeout(resolve, Math.max(0, ms));
    napping = {
      kind,
      wake: () => {
        if (timer !== null) clearTimeout(timer);
        resolve();
      },
    };
    return promise.finally(() => {
      napping = null;
    });
  }

  /** Wakes the loop if it sleeps for one of `kinds`; a backoff is only cut short by `stop`. */
  function rouse(...kinds: Nap[]): void {
    if (napping && kinds.includes(napping.kind)) napping.wake();
  }

  function failed(why: string): void {
    if (failingSince !== null) return;
    failingSince = clock();
    opts.report(`cannot deliver to ${opts.base}: ${why}; retrying, lines are kept in the spool ${spool.dir}`);
  }

  function recovered(): void {
    if (failingSince === null) return;
    opts.report(`delivery resumed after ${((clock() - failingSince) / 1000).toFixed(1)} s`);
    failingSince = null;
  }

  /** Paces the next request after this answer (2xx or not; null: no answer at all). */
  function pace(res: Response | null): void {
    if (res?.ok) {
      failures = 0;
      notBefore = 0;
      acceptedAt = clock();
      return;
    }
    let wait = retryDelay(failures++, opts.retryMaxMs, Math.random());
    const after = res ? retryAfterMs(res.headers.get("retry-after"), clock()) : null;
    if (after !== null) wait = Math.min(Math.max(wait, after), 60_000);
    notBefore = clock() + wait;
  }

  /** POSTs until the server answers something other than a retryable failure; null once stopped. */
  async function post(path: string, body: Uint8Array | string, key: string | null): Promise<Response | null> {
    for (;;) {
      if (stopped) return null;
      if (clock() < notBefore) {
        await sleep("backoff", notBefore - clock());
        continue;
      }
      try {
        const res = await fetch(path, {
          method: "POST",
          headers: {
            ...opts.headers,
            "content-type": "application/json",
            ...(key === null ? {} : { "idempotency-key": key }),
          },
          body,
          signal: AbortSignal.any([abort.signal, AbortSignal.timeout(opts.requestTimeoutMs)]),
        });
        // Read the whole answer inside the retry: a connection cut after the status line leaves the outcome
        // unknown, which is a retry under the same key (the server answers `duplicate` if it wrote it).
        const bytes = await res.arrayBuffer();
        const empty = res.status === 204 || res.status === 205 || res.status === 304;
        const answer = new Response(empty ? null : bytes, { status: res.status, headers: res.headers });
        pace(answer);
        if (!retryable(answer.status)) return answer;
        failed(`server answered ${res.status}: ${await messageOf(answer)}`);
      } catch (e) {
        if (stopped) return null;
        pace(null);
        failed(
          (e as Error).name === "TimeoutError"
            ? `no answer within ${opts.requestTimeoutMs} ms`
            : (e as Error).message,
        );
      }
    }
  }

  /** Sends one batch; returns false when the sender must stop (stopped, or a refusal nothing can cure). */
  async function deliver(batch: Batch, records: Uint8Array): Promise<boolean> {
    const body = buildBody(prefix, records);
    const res = await post(url, body, batch.key);
    if (res === null) return false;
    if (res.ok) {
      await res.arrayBuffer();
      spool.settle();
      stats.delivered += batch.lines;
      recovered();
      return true;
    }
    recovered();
    const { message, code } = await errorOf(res);
    if (res.status === 413 && code !== "job_too_large" && batch.lines > 1) {
      // Nothing was written: cut smaller batches from the same lines, under new keys (down to one line).
      spool.abandon();
      cap = Math.max(1, Math.floor(body.length / 2));
      // Each split is progress, not a repeated refusal: the next (smaller) try waits the shortest gap only.
      failures = 0;
      notBefore = clock() + MIN_RETRY_MS;
      opts.report(
        `server refused a ${body.length}-byte batch as too large; sending batches of at most ${cap} bytes`,
      );
      return true;
    }
    if (res.status === 413) {
      // A single line over the body limit, or a job past its cap: no split cures it. The lines stay in the
      // spool, for a `push` once the server's limits take them.
      spool.abandon();
      const what =
        code === "job_too_large"
          ? `a batch of ${batch.lines} line${batch.lines === 1 ? "" : "s"}`
          : `a single line of ${body.length - envelopeBytes(prefix) - 1} bytes`;
      stats.refused = `the server refused ${what} (413 ${code ?? "too large"}: ${message})`;
      opts.report(
        `${stats.refused}; delivery stopped, ${spool.unsentLines} lines stay in the spool ${spool.dir}`,
      );
      await reportStop(batch, stats.refused);
      return false;
    }
    if (res.status === 401 || res.status === 403) {
      stats.refused = `server answered ${res.status}: ${message}`;
      opts.report(
        `${stats.refused}; delivery stopped, ${spool.unsentLines} lines stay in the spool ${spool.dir}`,
      );
      return false;
    }
    stats.lost += batch.lines;
    opts.report(`server refused ${batch.lines} lines for good (${res.status}: ${message}); they are lost`);
    spool.settle();
    return true;
  }

  /** Tells the job's log that its lines stopped coming and why (keyed: a retry, or the same stop again, once). */
  async function reportStop(batch: Batch, why: string): Promise<void> {
    const message =
      `stroem-logs on ${hostname()}: delivery of step ${step} stopped: ${why}; the lines not delivered stay ` +
      `in the spool ${spool.dir} on that host, for a \`stroem-logs push\` once the server accepts them`;
    const res = await post(
      `${opts.base}/api/jobs/${encodeURIComponent(job)}/events`,
      JSON.stringify({ message }),
      `stopped:${spool.id}:${batch.seg}:${batch.start}`,
    );
    if (res === null || res.ok) return;
    opts.report(`could not record the stop on the server (${res.status}: ${(await errorOf(res)).message})`);
  }

  /** The spool could not record what is to be sent: say so once, wait, and let the loop try again. */
  async function unrecorded(e: SpoolStateError): Promise<void> {
    if (unrecordedSince === null) {
      unrecordedSince = clock();
      opts.report(`${e.message}; nothing is sent until it can be recorded, the lines stay in the spool`);
    }
    await sleep("backoff", backoffDelay(unrecordedTries++, retryBaseMs, opts.retryMaxMs, Math.random()));
  }

  function recorded(): void {
    if (unrecordedSince === null) return;
    opts.report(
      `the spool state is recorded again after ${((clock() - unrecordedSince) / 1000).toFixed(1)} s`,
    );
    unrecordedSince = null;
    unrecordedTries = 0;
  }

  /**
   * Tells the server how many lines the spool refused: never a silent loss. Each report is keyed by the
   * spool's id and where it starts in the drop count, and recorded before it is sent: a retry (also by a
   * shipper restarted after a crash) is the same report under the same key, answered `duplicate`, while a
   * later loss, or one in another spool of the same step, is a report of its own.
   */
  async function reportDrops(): Promise<boolean> {
    let loss: DropReport | null;
    try {
      loss = spool.beginReport();
    } catch (e) {
      if (!(e instanceof SpoolStateError)) throw e;
      await unrecorded(e);
      return true;
    }
    if (loss === null) return true;
    recorded();
    const n = loss.to - loss.from;
    const message =
      `stroem-logs on ${hostname()}: ${n} line${n === 1 ? "" : "s"} of step ${step} were dropped: ` +
      dropCause(loss, spool.dir, opts.spoolMax);
    const res = await post(
      `${opts.base}/api/jobs/${encodeURIComponent(job)}/events`,
      JSON.stringify({ message }),
      `drops:${spool.id}:${loss.from}`,
    );
    if (res === null) return false;
    if (res.ok) await res.arrayBuffer();
    else
      opts.report(
        `could not record the drop of ${n} lines on the server (${res.status}: ${await messageOf(res)})`,
      );
    spool.settleReport();
    return true;
  }

  async function loop(): Promise<void> {
    for (;;) {
      if (stopped) return;
      let batch = spool.pending;
      let records: Uint8Array;
      if (batch) {
        records = spool.read(batch);
      } else {
        if (spool.dropped > spool.reported && stats.delivered > 0) {
          if (!(await reportDrops())) return;
          continue;
        }
        if (spool.queuedBytes === 0) {
          if (spool.dropped > spool.reported) {
            if (!(await reportDrops())) return;
            continue;
          }
          if (closed) return;
          await sleep("idle", null);
          continue;
        }
        // Nothing is in flight: what is queued goes now, unless the shortest gap between pushes says wait.
        const due = leftBehind ? 0 : lastCutAt + opts.flushIntervalMs;
        if (!closed && clock() < due && spool.queuedBytes + envelopeBytes(prefix) < cap) {
          await sleep("linger", due - clock());
          continue;
        }
        const cut = spool.cut(cap - envelopeBytes(prefix))!;
        // Asked before the batch is recorded: lines printed while it is are not left behind.
        const full = spool.queuedBytes > cut.bytes.length;
        try {
          batch = await spool.record(cut.range, crypto.randomUUID());
        } catch (e) {
          if (!(e instanceof SpoolStateError)) throw e;
          await unrecorded(e);
          continue;
        }
        recorded();
        records = cut.bytes;
        lastCutAt = clock();
        leftBehind = full;
      }
      if (!(await deliver(batch, records))) return;
    }
  }

  /** An unexpected error must not end delivery for the rest of the run: report it and go on after a pause. */
  async function run(): Promise<void> {
    for (let failures = 0; ; failures++) {
      try {
        return await loop();
      } catch (e) {
        if (stopped) return;
        opts.report(`sender failed, restarting: ${(e as Error).stack ?? String(e)}`);
        await sleep("backoff", backoffDelay(failures, retryBaseMs, opts.retryMaxMs, Math.random()));
      }
    }
  }

  const done = run();

  return {
    stats,
    /** When the server last accepted a request of this sender; -Infinity before the first. */
    get acceptedAt() {
      return acceptedAt;
    },
    /** New lines were spooled. */
    notify(): void {
      rouse("idle");
      if (spool.queuedBytes + envelopeBytes(prefix) >= cap) rouse("linger");
    },
    /**
     * No more lines will come: send what is left without waiting, and resolve once the spool is empty
     * (true) or `timeoutMs` passed (false: the rest stays in the spool for a later `push`).
     */
    async drain(timeoutMs: number): Promise<boolean> {
      closed = true;
      rouse("idle", "linger");
      const timer = Promise.withResolvers<boolean>();
      const t = setTimeout(() => timer.resolve(false), timeoutMs);
      const ok = await Promise.race([done.then(() => true), timer.promise]);
      clearTimeout(t);
      if (!ok) await this.stop();
      return ok && !stopped && spool.unsentLines === 0;
    },
    /** Gives up: aborts the request in flight (its batch stays pending, to be re-sent under its key). */
    async stop(): Promise<void> {
      stopped = true;
      abort.abort();
      rouse("idle", "linger", "backoff");
      await done;
    },
  };
}

/** What dropped the lines of a loss report, for its message. */
function dropCause(loss: DropReport, dir: string, spoolMax: number): string {
  const full = loss.causes.includes("spool-max");
  const disk = loss.causes.includes("disk");
  if (full && !disk)
    return `the spool ${dir} reached --spool-max ${spoolMax} bytes while the server could not be reached`;
  if (disk && !full) return `writing them to the spool ${dir} failed (its disk is full or unwritable)`;
  if (full && disk)
    return `the spool ${dir} reached --spool-max ${spoolMax} bytes, and writing to its disk failed (full or unwritable)`;
  return `the spool ${dir} could not take them (it reached --spool-max, or its disk was full, in an earlier run)`;
}

async function messageOf(res: Response): Promise<string> {
  return (await errorOf(res)).message;
}

/** The server's `{"error","code"}`, or the start of whatever else answered (a proxy's HTML page). */
async function errorOf(res: Response): Promise<ErrorBody> {
  const body = errorOfText(await res.text().catch(() => ""));
  return body.message === "" ? { message: res.statusText, code: null } : body;
}
