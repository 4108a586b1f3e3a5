// The archive as a read tier: streamed download and decompression of a job's archived log.
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { Job } from "../core/job.ts";
import { AppError } from "../errors.ts";
import type { ArchiveTier } from "../logs/read.ts";
import { archiveUnreadable } from "../logs/read.ts";
import type { ArchivesRepository } from "../state/types.ts";
import { type ArchiveTarget, reason } from "./target.ts";

export function createArchiveTier(deps: {
  archives: Pick<ArchivesRepository, "get">;
  target: ArchiveTarget;
}): ArchiveTier {
  const { archives, target } = deps;
  return {
    // A job with committed bytes and no local file is worth trying even before its archive exists:
    // the reader then answers an honest 502 naming the archive state, not an empty log.
    has: async (job) => job.byte_count > 0 || ((await archives.get(job.id))?.uploaded_at ?? null) !== null,
    async verified(job) {
      const row = await archives.get(job.id);
      return row !== null && row.uploaded_at !== null && row.log_bytes === job.byte_count;
    },
    open: (job) => openArchived(job),
  };

  async function* openArchived(job: Job): AsyncGenerator<Uint8Array> {
    const row = await archives.get(job.id);
    if (row === null || row.uploaded_at === null) {
      const detail =
        row === null ? "" : ` (archive ${row.state}${row.last_error ? `: ${row.last_error}` : ""})`;
      throw archiveUnreadable(job.id, `the local log is missing and no archive was uploaded yet${detail}`);
    }
    let body: AsyncIterable<Uint8Array>;
    try {
      body = await target.get(row.key);
    } catch (e) {
      // archive_busy (every read connection taken) is a 503 to retry, not a broken archive.
      if (e instanceof AppError) throw e;
      throw archiveUnreadable(job.id, reason(e), e);
    }
    yield* gunzip(body, row.log_bytes, (why) =>
      archiveUnreadable(job.id, `${target.locate(row.key)}: ${why}`),
    );
  }
}

/**
 * Streams the decompressed bytes of a (multi-member) gzip body. A corrupt, truncated or short
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
