// An archive key that already holds an object stroem-logs did not write (Strøm archived the job): kept, never replaced.
import { gunzipSync } from "node:zlib";
import type { Job } from "../core/job.ts";
import { splitLines } from "../core/scan.ts";
import { linesMissing, textLines } from "../core/union.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import type { ArchiveRow, ArchivesRepository } from "../state/types.ts";
import { type ArchiveTarget, reason, TargetError } from "./target.ts";

/** Where stroem-logs archives a job whose own key holds a foreign object: beside it, named so. */
export function asideKey(key: string): string {
  return key.endsWith(".jsonl.gz")
    ? `${key.slice(0, -".jsonl.gz".length)}.stroem-logs.jsonl.gz`
    : `${key}.stroem-logs`;
}

export interface ForeignDeps {
  archives: Pick<ArchivesRepository, "claim">;
  target: ArchiveTarget;
  registry: Pick<Registry, "fold">;
  store: Pick<LogStore, "jsonlPath">;
  log: Logger;
}

/**
 * Decides the key of a job's first upload. A key that none of our attempts has written yet is looked at first:
 * empty, it is ours; holding an object, that object is someone else's (Strøm's `upload_to_archive` writes the
 * same key, log_storage.rs:254-298). Then it is kept byte for byte, the lines of it that our log lacks are
 * added to our log (Strøm's own merge rule: the union of exact lines), a server event says so, and our archive
 * goes beside it (`asideKey`). Nothing is lost: the foreign copy stays, and ours holds every line of both.
 * Line numbers stay as they were (the added lines come after ours), where Strøm's merge sorts by `ts`.
 */
export function createForeignCheck(deps: ForeignDeps) {
  const { archives, target, registry, store, log } = deps;

  /** The lines of the object at `key`, or null when there is none. */
  async function foreignLines(key: string): Promise<string[] | null> {
    let body: AsyncIterable<Uint8Array>;
    try {
      body = await target.get(key, "archiver");
    } catch (e) {
      if (e instanceof TargetError && e.kind === "missing") return null;
      throw e;
    }
    const parts: Uint8Array[] = [];
    for await (const part of body) parts.push(part);
    let text: string;
    try {
      // node:zlib reads every member (Bun.gunzipSync only the first); the foreign copy is held whole, once.
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
    // Claimed before: our own attempts may have written there since (and died before it was verified).
    if (row.claimed_key === key || row.claimed_key === aside) return row.claimed_key;
    const theirs = await foreignLines(key);
    if (theirs === null) {
      await archives.claim(job.id, key);
      return key;
    }
    const missing =
      job.byte_count === 0
        ? [...new Set(theirs)]
        : await linesMissing(
            theirs,
            splitLines(Bun.file(store.jsonlPath(job.id)).slice(0, job.byte_count).stream()),
          );
    await registry.fold(
      job.id,
      missing,
      `[archive] ${target.locate(key)} already holds an archive stroem-logs did not write (${theirs.length} lines); ` +
        `it is kept as it is. ${missing.length} of its lines were not in this log and are added to it; ` +
        `this log is archived at ${target.locate(aside)}`,
    );
    await archives.claim(job.id, aside);
    log.warn(
      `archive: job ${job.id}: ${target.locate(key)} holds a foreign object; kept, ${missing.length} lines folded in, archiving at ${target.locate(aside)}`,
    );
    return aside;
  };
}
