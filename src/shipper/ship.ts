// A shipping session for one (job, step): spool + sender + captures, the drain at the end and its report.
import { formatDuration } from "../config/units.ts";
import type { Masker } from "../core/mask.ts";
import { errorOfText } from "../protocol/error-body.ts";
import type { Stream } from "../protocol/line.ts";
import { retryable, retryDelay } from "./batch.ts";
import { capture } from "./capture.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { createSender } from "./sender.ts";
import { openSpool, SpoolBusyError, spoolDirOf } from "./spool.ts";

export interface ShipOptions {
  base: string;
  headers: Record<string, string>;
  job: string;
  step: string;
  spoolRoot: string;
  spoolMax: number;
  flushIntervalMs: number;
  maxBodyBytes: number;
  maxLineBytes: number;
  partialFlushMs: number;
  drainTimeoutMs: number;
  requestTimeoutMs: number;
  retryMaxMs: number;
  /** The command name for messages on stderr (`run`, `push`). */
  command: string;
  /** Reopen with the same job and step to deliver what is left (for the message). */
  resumeHint: string;
  /** Secrets masked in every line before it is spooled (and in the echo). */
  masker?: Masker | undefined;
}

export interface ShipOutcome {
  /** Every line read (this run and left by an earlier one) reached the server. */
  ok: boolean;
  read: number;
  undelivered: number;
  lost: number;
  dropped: number;
}

export type Shipper = ReturnType<typeof startShipper>;

export function startShipper(opts: ShipOptions) {
  const report = (message: string) => process.stderr.write(`stroem-logs ${opts.command}: ${message}\n`);
  const spool = openSpool({ dir: spoolDirOf(opts.spoolRoot, opts.job, opts.step), maxBytes: opts.spoolMax });
  const droppedBefore = spool.dropped;
  if (spool.unsentLines > 0) {
    report(`${spool.unsentLines} lines left in the spool ${spool.dir} by an earlier run are sent first`);
  }
  const sender = createSender({
    spool,
    base: opts.base,
    headers: opts.headers,
    job: opts.job,
    step: opts.step,
    flushIntervalMs: opts.flushIntervalMs,
    maxBodyBytes: opts.maxBodyBytes,
    requestTimeoutMs: opts.requestTimeoutMs,
    retryMaxMs: opts.retryMaxMs,
    spoolMax: opts.spoolMax,
    report,
  });
  // The job stays alive while this shipper runs, however quiet its step: recovery fails it only once the
  // shipper itself is gone (killed, its host down).
  const heartbeat = startHeartbeat({
    base: opts.base,
    headers: opts.headers,
    job: opts.job,
    requestTimeoutMs: opts.requestTimeoutMs,
    lastAccepted: () => sender.acceptedAt,
    report,
  });
  let read = 0;

  return {
    report,
    spool,
    sender,
    async capture(
      source: ReadableStream<Uint8Array>,
      stream: Stream,
      echo: ((chunk: Uint8Array) => Promise<void> | void) | null,
      signal?: AbortSignal,
    ): Promise<void> {
      read += await capture(source, {
        ...(signal ? { signal } : {}),
        ...(opts.masker ? { masker: opts.masker } : {}),
        spool,
        sender,
        stream,
        maxLineBytes: opts.maxLineBytes,
        partialFlushMs: opts.partialFlushMs,
        echo,
        report,
      });
    },
    /** Gives up waiting (a signal during the drain): what is not delivered stays in the spool. */
    giveUp: () => sender.stop(),
    /** Waits (bounded) for every line to be delivered, then closes the spool and reports what was not. */
    async finish(): Promise<ShipOutcome> {
      await sender.drain(opts.drainTimeoutMs);
      heartbeat.stop();
      const undelivered = spool.unsentLines;
      const dropped = spool.dropped - droppedBefore;
      const { lost, refused } = sender.stats;
      spool.close();
      if (undelivered > 0) {
        const why = refused ?? `not delivered within --drain-timeout ${formatDuration(opts.drainTimeoutMs)}`;
        report(
          `${undelivered} lines ${refused ? "not delivered" : why}${refused ? ` (${why})` : ""}; they stay in the ` +
            `spool ${spool.dir}: run \`${opts.resumeHint}\` to deliver them`,
        );
      }
      if (lost > 0) report(`${lost} lines were refused by the server and are lost`);
      if (dropped > 0) {
        const why = [
          ...(spool.dropCauses.has("spool-max")
            ? [`the spool reached --spool-max ${opts.spoolMax} bytes`]
            : []),
          ...(spool.dropCauses.has("disk") ? ["its disk refused the write"] : []),
        ];
        report(`${dropped} lines were dropped: ${why.join(", and ") || "the spool could not take them"}`);
      }
      return { ok: undelivered === 0 && lost === 0 && dropped === 0, read, undelivered, lost, dropped };
    },
    /** Ends the job, retrying like a batch until `timeoutMs`; returns an error message or null. */
    async complete(
      status: "completed" | "failed",
      error: string | null,
      timeoutMs: number,
    ): Promise<string | null> {
      const url = `${opts.base}/worker/jobs/${encodeURIComponent(opts.job)}/complete`;
      const body = JSON.stringify({ status, ...(error === null ? {} : { error }) });
      const deadline = Date.now() + timeoutMs;
      let last = "";
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        try {
          const res = await fetch(url, {
            method: "POST",
            headers: { ...opts.headers, "content-type": "application/json" },
            body,
            signal: AbortSignal.timeout(Math.max(1, Math.min(opts.requestTimeoutMs, deadline - Date.now()))),
          });
          const text = await res.text();
          if (res.ok) return null;
          last = `server answered ${res.status}: ${errorOfText(text).message}`;
          if (!retryable(res.status)) return last;
        } catch (e) {
          last = (e as Error).message;
        }
        const wait = retryDelay(attempt, opts.retryMaxMs, Math.random());
        await Bun.sleep(Math.max(0, Math.min(wait, deadline - Date.now())));
      }
      return `could not complete job ${opts.job} within ${formatDuration(timeoutMs)}: ${last}`;
    },
  };
}

/** Starts a shipper, or says in one line why its spool cannot be used (busy, unwritable). */
export function tryStartShipper(opts: ShipOptions): { shipper: Shipper } | { why: string } {
  try {
    return { shipper: startShipper(opts) };
  } catch (e) {
    return {
      why:
        e instanceof SpoolBusyError
          ? e.message
          : `cannot use the spool under ${opts.spoolRoot}: ${(e as Error).message}`,
    };
  }
}
