// An archive key that already holds an object stroem-logs did not write (Strøm archived the job): kept, never replaced.
import { gunzipSync } from "node:zlib";
import type { Job } from "../core/job.ts";
import { textLines } from "../core/union.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { ArchiveRow, ArchivesRepository } from "../state/types.ts";
import { writtenByUs } from "./member.ts";
import { GZIP_HEADER_BYTES, indexKeyOf } from "./seek-index.ts";
import { type ArchiveTarget, reason, TargetError } from "./target.ts";
import { createDigester } from "./verify.ts";

/** Where stroem-logs archives a job whose own key holds a foreign object: beside it, named so. */
export function asideKey(key: string): string {
  if (isAside(key)) return key;
  return key.endsWith(".jsonl.gz")
    ? `${key.slice(0, -".jsonl.gz".length)}.stroem-logs.jsonl.gz`
    : `${key}.stroem-logs`;
}

/** A key `asideKey` made: named for stroem-logs, so no other writer (Strøm's archiver) uses it. */
const isAside = (key: string): boolean =>
  key.endsWith(".stroem-logs.jsonl.gz") || key.endsWith(".stroem-logs");

export interface ForeignDeps {
  archives: Pick<ArchivesRepository, "claim">;
  target: ArchiveTarget;
  registry: Pick<Registry, "fold" | "missing">;
  log: Logger;
}

/**
 * Decides the key of each upload of a job, first or again (a retry, a re-archive of late lines). The key is
 * looked at before every PUT: empty, or holding an archive stroem-logs wrote (its gzip header says so, or an
 * older one's bytes are the ones verified), it is ours. Holding anything else, that object is someone else's:
 * Strøm's `upload_to_archive` writes the same key (log_storage.rs:254-298), at its job's end, whether or not
 * stroem-logs wrote there first. Then it is kept byte for byte, the lines of it that our log lacks are added
 * to our log (Strøm's own merge rule: the union of exact lines), a server event says so, and our archive goes
 * beside it (`asideKey`). Nothing is lost: the foreign copy stays, and ours holds every line of both.
 * Line numbers stay as they were (the added lines come after ours), where Strøm's merge sorts by `ts`.
 * Left open: a write by someone else between this look and our PUT (milliseconds) is replaced; a write
 * after it is found by the read-back, which then fails the attempt, and the retry looks again.
 */
export function createForeignCheck(deps: ForeignDeps) {
  const { archives, target, registry, log } = deps;

  /** Who wrote the object at `key`: nobody (none there), stroem-logs, or someone else. */
  async function ownerOf(key: string, row: ArchiveRow): Promise<"none" | "ours" | "foreign"> {
    const head: Uint8Array[] = [];
    try {
      for await (const part of await target.getRange(key, 0, GZIP_HEADER_BYTES, "archiver")) head.push(part);
    } catch (e) {
      if (e instanceof TargetError && e.kind === "missing") return "none";
      throw e;
    }
    if (writtenByUs(Buffer.concat(head))) return "ours";
    // An archive this job verified here before its writer marked its objects (no comment in the header).
    if (row.uploaded_at !== null && row.key === key && row.sha256 !== null) {
      const stored = createDigester();
      for await (const part of await target.get(key, "archiver")) stored.update(part);
      if (stored.digest().sha256 === row.sha256) return "ours";
    }
    return "foreign";
  }

  /** The lines of the foreign object at `key` (held whole, once). */
  async function foreignLines(key: string): Promise<string[]> {
    const parts: Uint8Array[] = [];
    for await (const part of await target.get(key, "archiver")) parts.push(part);
    let text: string;
    try {
      // node:zlib reads every member (Bun.gunzipSync only the first).
      text = gunzipSync(Buffer.concat(parts)).toString("utf8");
    } catch (e) {
      // Not ours and not readable as gzip: still never replaced; the upload waits (and says why) instead.
      throw new TargetError(
        `${target.locate(key)} holds an object stroem-logs did not write, and it is not a readable gzip log (${reason(e)}); it is left as it is: move it away to archive this job there`,
        "other",
      );
    }
    return textLines(text);
  }

  return async function keyFor(job: Job, row: ArchiveRow, key: string): Promise<string> {
    const aside = asideKey(key);
    // Moved aside before: nobody else writes there.
    if (key === aside || row.claimed_key === aside) return aside;
    const owner = await ownerOf(key, row);
    if (owner !== "foreign") {
      if (row.claimed_key !== key) await archives.claim(job.id, key);
      return key;
    }
    const theirs = await foreignLines(key);
    const missing = await registry.missing(job, theirs);
    const after = row.uploaded_at !== null ? " since this log was archived there" : "";
    await registry.fold(
      job.id,
      missing,
      `[archive] ${target.locate(key)} already holds an archive stroem-logs did not write${after} (${theirs.length} lines); ` +
        `it is kept as it is. ${missing.length} of its lines were not in this log and are added to it; ` +
        `this log is archived at ${target.locate(aside)}`,
    );
    await archives.claim(job.id, aside);
    if (row.uploaded_at !== null) {
      // Our index of the archive that was there: ours, and of no use beside someone else's object.
      await target.delete(indexKeyOf(key));
    }
    log.warn(
      `archive: job ${job.id}: ${target.locate(key)} holds a foreign object${after}; kept, ${missing.length} lines folded in, archiving at ${target.locate(aside)}`,
    );
    return aside;
  };
}
