// Typed events, emitted after the commit they report by whoever committed it. The live hub, the archive and
// metrics subscribe; a listener that throws is logged and neither undoes the commit nor stops the others.
import type { Job } from "./core/job.ts";
import type { Logger } from "./log.ts";

/** Why a live stream closed: its job ended, it fell over the buffer budget, its client left, … */
export type StreamCloseWhy = "end" | "over_budget" | "cut" | "error" | "unreadable" | "shutdown" | "client";

export interface EventMap {
  /** A run of lines [first, next) committed at byte `offset` of the job's log: the bytes and their text. */
  appended: { job: Job; first: number; next: number; offset: number; bytes: Uint8Array; text: string };
  /**
   * What became of a worker's batch: `written` (all of it in the log), `held` (some or all in the size-cap
   * window), `duplicate` (a retried key, written nowhere), `refused` (nothing written; `code` says why).
   */
  push: {
    job: string;
    lines: number;
    bytes: number;
    outcome: "written" | "held" | "duplicate" | "refused";
    truncated: number;
    held: number;
    code: string | null;
    /** From the batch reaching the registry to its result: the wait for the job's turn and the commit. */
    ms: number;
  };
  /** A server event was recorded in the job's log. */
  server_event: { job: string; first: number; next: number };
  /** The job ended (its completion work follows). */
  terminal: { job: Job };
  /** The job's completion work is done: nothing more is expected in its log. */
  settled: { job: Job };
  /** A job's registered secrets were deleted (it ended `masking.forget_after` ago): later lines are refused. */
  "masking.forgotten": { job: string };
  /** A job reached its size cap: later lines go to the rolling window. */
  "cap.started": { job: string };
  /** The window joined the log at the job's end. */
  "cap.released": { job: string; elided_lines: number; elided_bytes: number };
  "hook.delivered": { job: string; url: string; attempts: number; ms: number };
  "hook.failed": { job: string; url: string; why: string; attempts: number; ms: number };
  /** The job's archive entered the queue: its first upload, or again after late lines (same key). */
  "archive.queued": { job: string; key: string };
  "archive.started": { job: string; key: string; attempt: number; log_bytes: number };
  /** An upload read back, verified and recorded: it serves reads from now. */
  "archive.uploaded": {
    job: string;
    key: string;
    log_bytes: number;
    bytes: number;
    sha256: string;
    /** False when lines arrived during the upload: it goes up again. */
    complete: boolean;
    ms: number;
  };
  "archive.failed": {
    job: string;
    key: string;
    error: string;
    failures: number;
    retry_in: number;
    ms: number;
  };
  "archive.local_deleted": { job: string };
  "archive.restored": { job: string };
  "archive.restore_failed": { job: string; error: string };
  /** The archive target became unreachable (`problem`) or reachable again (null). */
  "archive.target": { problem: string | null };
  /** Retention removed a local file (`file`), a job whole (`job`) or an archive object (`object`). */
  "retention.deleted": { kind: "file" | "job" | "object"; job: string; key: string | null };
  "retention.swept": {
    ms: number;
    files_deleted: number;
    rows_deleted: number;
    objects_deleted: number;
    errors: number;
    deferred: number;
  };
  /** Recovery failed a stale job (`failed`), or could not (`error`). */
  "recovery.failed": { job: string; reason: string };
  "recovery.error": { job: string; error: string };
  /** A quiet job recovery left alone: its end is another's to say (Strøm mode: Strøm knows it, or is down). */
  "recovery.spared": { job: string };
  /** Writes to local_dir fail (`failing`: what the last one said) or succeed again (null). */
  "storage.state": { failing: { code: string; message: string } | null };
  "stream.opened": { job: string };
  /** A frame sent to a viewer: live as the run committed, or read back from the log (`catch-up`). */
  "stream.frame": { job: string; bytes: number; mode: "live" | "catch-up" };
  /** A viewer reached the job's end and now receives runs as they commit. */
  "stream.live": { job: string };
  "stream.closed": { job: string; code: number; why: StreamCloseWhy };
}

export type EventName = keyof EventMap;
export type Listener<K extends EventName> = (event: EventMap[K]) => void | Promise<void>;

export interface Events {
  /** Subscribes; returns the unsubscribe. Listeners run in subscription order, synchronously at the emit. */
  on<K extends EventName>(name: K, fn: Listener<K>): () => void;
  emit<K extends EventName>(name: K, event: EventMap[K]): void;
  /** Whether anything listens (an emitter may skip building a costly event). */
  listened(name: EventName): boolean;
}

/** A listener's failure is logged at once, then at most once a minute with the count of those not logged. */
const REPORT_EVERY_MS = 60_000;

export function createEvents(log: Logger, clock: () => number = Date.now): Events {
  const listeners = new Map<EventName, Array<Listener<EventName>>>();
  const reported = new Map<Listener<EventName>, { at: number; quiet: number }>();

  function failed(name: EventName, fn: Listener<EventName>, e: unknown): void {
    const now = clock();
    const r = reported.get(fn);
    if (r !== undefined && now - r.at < REPORT_EVERY_MS) {
      r.quiet++;
      return;
    }
    const more =
      r !== undefined && r.quiet > 0 ? ` (and ${r.quiet} more failures since the last report)` : "";
    reported.set(fn, { at: now, quiet: 0 });
    log.error(`a listener of "${name}" failed${more}; the change it reports is committed`, e);
  }

  return {
    on(name, fn) {
      const list = listeners.get(name) ?? [];
      list.push(fn as Listener<EventName>);
      listeners.set(name, list);
      return () => {
        const at = list.indexOf(fn as Listener<EventName>);
        if (at !== -1) list.splice(at, 1);
      };
    },
    emit(name, event) {
      const list = listeners.get(name);
      if (list === undefined) return;
      for (const fn of list) {
        try {
          const r = fn(event);
          if (r instanceof Promise) r.catch((e: unknown) => failed(name, fn, e));
        } catch (e) {
          failed(name, fn, e);
        }
      }
    },
    listened: (name) => (listeners.get(name)?.length ?? 0) > 0,
  };
}
