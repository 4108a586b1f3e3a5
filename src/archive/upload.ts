// One archive attempt: gzip the committed log → upload it and its index → read both back and verify → record → (maybe) delete local.
import { formatDuration } from "../config/units.ts";
import { backoff } from "../core/backoff.ts";
import type { Job } from "../core/job.ts";
import { archiveKey } from "../core/key.ts";
import type { Events } from "../events.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import type { ArchiveRow, ArchivesRepository } from "../state/types.ts";
import { gzipMember } from "./member.ts";
import type { Probe } from "./probe.ts";
import { indexKeyOf, serializeIndex } from "./seek-index.ts";
import { type ArchiveTarget, reason, TargetError } from "./target.ts";
import { createDigester, verifyStored } from "./verify.ts";

export interface UploadOptions {
  archives: ArchivesRepository;
  registry: Pick<Registry, "get" | "event" | "exclusive">;
  store: LogStore;
  target: ArchiveTarget;
  probe: Probe;
  events: Events;
  log: Logger;
  prefix: string;
  /** Backoff between failed attempts: doubles from `initial`, capped at `max`. */
  retry: { initial: number; max: number };
  /** Quiet time after a late line before the archive is uploaded again. */
  rearchiveDelay: number;
  deleteLocal: boolean;
  /** The key of this upload, given the planned one: looked at first (foreign.ts: a foreign object moves it aside). */
  keyFor: (job: Job, row: ArchiveRow, key: string) => Promise<string>;
  /** True once the archive is stopping: an aborted attempt then is no failure. */
  stopping: () => boolean;
  clock: () => number;
}

/** Returns one attempt for a job: resolves with when to try again (ms), or null when nothing is left to do. */
export function createUpload(opts: UploadOptions) {
  const { archives, registry, store, target, log, events, clock } = opts;

  async function failed(id: string, key: string, row: ArchiveRow, e: unknown, ms: number): Promise<number> {
    const message = reason(e);
    const failures = row.failures + 1;
    const wait = backoff(failures, opts.retry);
    await archives.failed(id, message, clock() + wait);
    if (e instanceof TargetError && e.kind !== "other") opts.probe.failed(message);
    log.warn(
      `archive: job ${id}: upload ${row.attempts + 1} to ${target.locate(key)} failed: ${message}; retrying in ${formatDuration(wait)}`,
    );
    events.emit("archive.failed", { job: id, key, error: message, failures, retry_in: wait, ms });
    if (failures === 1) {
      // Once per outage, not per retry: the log would otherwise fill with the same line.
      try {
        await registry.event(
          id,
          `[archive] upload to ${target.locate(key)} failed: ${message}; retrying with backoff (at most ${formatDuration(opts.retry.max)} apart) until it succeeds`,
        );
      } catch (err) {
        log.warn(`archive: job ${id}: could not record the failure as a server event: ${reason(err)}`);
      }
    }
    return wait;
  }

  return async function attempt(id: string, signal: AbortSignal): Promise<number | null> {
    const job = await registry.get(id);
    const row = await archives.get(id);
    if (!job || !row || opts.stopping()) return null;
    if (row.uploaded_at !== null && row.log_bytes === job.byte_count) {
      if (row.state !== "uploaded") await archives.setState(id, "uploaded");
      return null;
    }
    // The key is fixed by the first verified upload; until then a PUT may still fix workspace or task. Before
    // every upload the key is looked at: an object someone else put there is kept (foreign.ts) and ours goes
    // beside it, which may add lines: the end is read again.
    const planned = row.uploaded_at === null ? archiveKey(opts.prefix, job) : row.key;
    let key = planned;
    try {
      key = await opts.keyFor(job, row, planned);
    } catch (e) {
      // Counted as an attempt like any other (the key is not claimed: it is looked at again next time).
      await archives.begin(id, planned);
      events.emit("archive.started", {
        job: id,
        key: planned,
        attempt: row.attempts + 1,
        log_bytes: job.byte_count,
      });
      return failed(id, planned, row, e, 0);
    }
    const end = (await registry.get(id))?.byte_count ?? job.byte_count;
    await archives.begin(id, key);
    events.emit("archive.started", { job: id, key, attempt: row.attempts + 1, log_bytes: end });
    const started = clock();
    try {
      const size = store.size(id);
      if (end > 0 && (size === null || size < end)) {
        throw new Error(`local log holds ${size ?? 0} bytes but ${end} were committed`);
      }
      const sent = createDigester();
      const member = gzipMember(store.jsonlPath(id), end);
      const hashed = (async function* () {
        for await (const part of member.body) {
          sent.update(part);
          yield part;
        }
      })();
      await target.put(key, hashed, signal);
      if (member.threadsFailed !== null) {
        log.warn(`archive: job ${id}: compressed on one thread: ${member.threadsFailed}`);
      }
      // The index goes up before the archive counts as verified: a verified archive always has its index
      // (an older index left beside a re-archived object is refused by the reader: its sizes do not match).
      const idx = new TextEncoder().encode(serializeIndex(member.index()));
      const idxKey = indexKeyOf(key);
      await target.put(idxKey, one(idx), signal);
      // Counts as uploaded only once the stored bytes are the compressed bytes: a mismatch is a failed attempt.
      const { bytes, sha256 } = await verifyStored(target, key, sent.digest(), signal);
      const indexSent = createDigester();
      indexSent.update(idx);
      await verifyStored(target, idxKey, indexSent.digest(), signal);
      // No append of the job runs from the size check to the removal of its file.
      const { complete, deleted } = await registry.exclusive(id, async () => {
        const fresh = (await registry.get(id)) ?? job;
        const complete = fresh.byte_count === end;
        await archives.uploaded(id, { complete, bytes, sha256, log_bytes: end, now: clock() });
        const deleted = complete && opts.deleteLocal && end > 0;
        if (deleted) {
          store.remove(id);
          await archives.setLocalDeleted(id, true);
        }
        return { complete, deleted };
      });
      opts.probe.ok();
      const ms = clock() - started;
      const secs = Math.max(ms, 1) / 1000;
      log.info(
        `archive: job ${id}: ${end} log bytes → ${bytes} bytes at ${target.locate(key)} in ${secs.toFixed(1)} s (${(end / 1e6 / secs).toFixed(0)} MB/s)`,
      );
      events.emit("archive.uploaded", { job: id, key, log_bytes: end, bytes, sha256, complete, ms });
      if (deleted) events.emit("archive.local_deleted", { job: id });
      if (!complete) {
        await archives.setState(id, "pending");
        return opts.rearchiveDelay;
      }
      return null;
    } catch (e) {
      if (opts.stopping() && signal.aborted) {
        await archives.setState(id, "pending");
        return null;
      }
      return failed(id, key, row, e, clock() - started);
    }
  };
}

async function* one(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
