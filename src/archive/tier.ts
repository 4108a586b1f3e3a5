// The archive as a read tier: ranged reads with the archive's seek index, else streamed decompression of it all.
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { Job } from "../core/job.ts";
import { AppError } from "../errors.ts";
import type { ArchivedLog, ArchiveTier } from "../logs/read.ts";
import { archiveUnreadable } from "../logs/read.ts";
import type { ArchiveRow, ArchivesRepository } from "../state/types.ts";
import { type ArchiveSource, openArchive } from "./ranged.ts";
import { type ArchiveIndex, IndexError, indexKeyOf, parseIndex } from "./seek-index.ts";
import { type ArchiveTarget, reason, TargetError } from "./target.ts";

/** An index larger than this is not read (a 1 GB log's is ~38 KiB; 64 MiB would describe ~1.7 TB of log). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Parsed indexes kept, counted in blocks (~100 B each parsed): ~20 MB at most, ~100 indexes of 1 GB logs. */
const CACHE_BLOCKS = 200_000;

/** What a read found of an archive's index: the index, or why there is none (kept: it holds for this upload). */
type IndexLookup = ArchiveIndex | { none: string };

export function createArchiveTier(deps: {
  archives: Pick<ArchivesRepository, "get">;
  target: ArchiveTarget;
}): ArchiveTier {
  const { archives, target } = deps;
  const cache = createIndexCache();
  return {
    // A job with committed bytes and no local file is worth trying even before its archive exists:
    // the reader then answers an honest 502 naming the archive state, not an empty log.
    has: async (job) => job.byte_count > 0 || ((await archives.get(job.id))?.uploaded_at ?? null) !== null,
    async verified(job) {
      const row = await archives.get(job.id);
      return row !== null && row.uploaded_at !== null && row.log_bytes === job.byte_count;
    },
    open: (job) => openArchived(job),
    seek: (job) => seekArchived(job),
  };

  async function uploadedRow(job: Job): Promise<ArchiveRow> {
    const row = await archives.get(job.id);
    if (row === null || row.uploaded_at === null) {
      const detail =
        row === null ? "" : ` (archive ${row.state}${row.last_error ? `: ${row.last_error}` : ""})`;
      throw archiveUnreadable(job.id, `the local log is missing and no archive was uploaded yet${detail}`);
    }
    return row;
  }

  /** A target failure as the read path reports it: archive_busy stays a 503 to retry, the rest is a 502. */
  function unreadable(job: Job, e: unknown): Error {
    return e instanceof AppError ? e : archiveUnreadable(job.id, reason(e), e);
  }

  async function* openArchived(job: Job): AsyncGenerator<Uint8Array> {
    const row = await uploadedRow(job);
    let body: AsyncIterable<Uint8Array>;
    try {
      body = await target.get(row.key);
    } catch (e) {
      throw unreadable(job, e);
    }
    yield* gunzip(body, row.log_bytes, (why) =>
      archiveUnreadable(job.id, `${target.locate(row.key)}: ${why}`),
    );
  }

  async function seekArchived(job: Job): Promise<ArchivedLog> {
    const row = await uploadedRow(job);
    const fail = (why: string) => archiveUnreadable(job.id, `${target.locate(row.key)}: ${why}`);
    const lookup = await indexOf(job, row);
    const src: ArchiveSource = {
      getRange: (start, end) => guarded(job, () => target.getRange(row.key, start, end)),
      getObject: async () => {
        try {
          return await target.get(row.key);
        } catch (e) {
          throw unreadable(job, e);
        }
      },
      getIndex: async () => ("none" in lookup ? null : lookup),
      logBytes: row.log_bytes,
      objectBytes: row.bytes,
      lines: row.log_bytes === job.byte_count ? job.line_count : undefined,
      fail,
    };
    const reader = await openArchive(src);
    return {
      get lines() {
        return reader.index?.lines ?? src.lines ?? null;
      },
      get ranged() {
        return reader.index !== null;
      },
      get fallback() {
        return "none" in lookup ? lookup.none : reader.fallback;
      },
      from: (from, count) => reader.from(from, count),
      step: (step, from) => reader.step(step, from),
      tail: (k) => reader.tail(k),
    };
  }

  /**
   * The archive's index, parsed and checked against the recorded upload, from the cache when this upload's
   * was read before. Missing or unusable is an answer (the read goes through the whole object); a target
   * that cannot be reached is the read's error, not a reason to try the whole object as well.
   */
  async function indexOf(job: Job, row: ArchiveRow): Promise<IndexLookup> {
    const id = `${row.key}\n${row.uploaded_at}\n${row.sha256}\n${row.bytes}`;
    const hit = cache.get(id);
    if (hit !== undefined) return hit;
    let found: IndexLookup;
    try {
      const body = await target.getRange(indexKeyOf(row.key), 0, MAX_INDEX_BYTES + 1);
      const parts: Uint8Array[] = [];
      let size = 0;
      for await (const part of body) {
        parts.push(part);
        size += part.length;
      }
      if (size > MAX_INDEX_BYTES) throw new IndexError(`archive index is over ${MAX_INDEX_BYTES} bytes`);
      found = parseIndex(Buffer.concat(parts), {
        logBytes: row.log_bytes,
        objectBytes: row.bytes,
      });
    } catch (e) {
      if (e instanceof TargetError && (e.kind === "unreachable" || e.kind === "denied"))
        throw unreadable(job, e);
      if (e instanceof AppError) throw e;
      const why =
        e instanceof TargetError && e.kind === "missing"
          ? "the archive has no index"
          : e instanceof IndexError
            ? e.message
            : `the archive's index could not be read (${reason(e)})`;
      found = { none: why };
      // A failed GET may succeed next time; a missing or unusable index stays so for this upload.
      if (!(e instanceof IndexError) && !(e instanceof TargetError && e.kind === "missing")) return found;
    }
    cache.set(id, found);
    return found;
  }

  /** A ranged read whose failures (opening it, or mid-stream) are the read path's errors. */
  async function* guarded(
    job: Job,
    open: () => Promise<AsyncIterable<Uint8Array>>,
  ): AsyncGenerator<Uint8Array> {
    let body: AsyncIterable<Uint8Array>;
    try {
      body = await open();
    } catch (e) {
      throw unreadable(job, e);
    }
    try {
      yield* body;
    } catch (e) {
      throw unreadable(job, e);
    }
  }
}

/** Parsed indexes by upload, least recently used out first, bounded by their blocks. */
function createIndexCache() {
  const entries = new Map<string, IndexLookup>();
  let blocks = 0;
  const weight = (x: IndexLookup) => ("none" in x ? 1 : x.blocks.length + 1);
  return {
    get(id: string): IndexLookup | undefined {
      const x = entries.get(id);
      if (x !== undefined) {
        entries.delete(id);
        entries.set(id, x);
      }
      return x;
    },
    set(id: string, x: IndexLookup): void {
      const old = entries.get(id);
      if (old !== undefined) blocks -= weight(old);
      entries.delete(id);
      entries.set(id, x);
      blocks += weight(x);
      for (const [k, v] of entries) {
        if (blocks <= CACHE_BLOCKS || k === id) break;
        entries.delete(k);
        blocks -= weight(v);
      }
    },
  };
}

/**
 * Streams the decompressed bytes of a gzip body (one member or many). A corrupt, truncated or short
 * archive raises `fail` — a reader never mistakes a broken archive for a shorter log.
 */
export async function* gunzip(
  body: AsyncIterable<Uint8Array>,
  expectedBytes: number,
  fail: (why: string) => Error,
): AsyncGenerator<Uint8Array> {
  // One chunk read ahead: a stalled reader holds little, and stops pulling from the target soon.
  const source = body instanceof Readable ? body : Readable.from(body, { highWaterMark: 1 });
  const inflate = createGunzip({ chunkSize: 256 * 1024 });
  let broken: unknown = null;
  source.on("error", (e) => {
    broken = e;
    inflate.destroy(e);
  });
  source.pipe(inflate);
  let total = 0;
  try {
    for await (const chunk of inflate) {
      total += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } catch (e) {
    // A download that broke (S3 gone, no connection free) is not a corrupt archive.
    if (broken !== null) throw fail(`reading the archive failed (${reason(broken)})`);
    throw fail(`corrupt or unreadable archive (${reason(e)})`);
  } finally {
    source.destroy();
    inflate.destroy();
  }
  if (total !== expectedBytes) {
    throw fail(`archive holds ${total} bytes of log, ${expectedBytes} were archived`);
  }
}
