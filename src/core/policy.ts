// Pure retention rules: which deletion applies to which age, given the config and whether an archive exists.
import { formatDuration } from "../config/units.ts";

export const DAY_MS = 86_400_000;

export interface RetentionConfig {
  local_days?: number | undefined;
  archive_days?: number | undefined;
}

export interface RetentionPlan {
  /** Jobs that ended before this lose their local file, once their archive is verified (null: never). */
  localBefore: number | null;
  /** Jobs that ended before this are deleted whole: archive object, rows, local file (null: never). */
  expireBefore: number | null;
}

/**
 * With an archive, `local_days` frees local disk (the archive keeps the log) and `archive_days` ends the
 * log's life. Without one the local file is the only copy: a row without it would answer an empty log,
 * so `local_days` deletes the whole job, and `archive_days` has nothing to act on.
 */
export function plan(cfg: RetentionConfig, archived: boolean, now: number): RetentionPlan {
  const before = (days: number | undefined) => (days === undefined ? null : now - days * DAY_MS);
  if (!archived) return { localBefore: null, expireBefore: before(cfg.local_days) };
  return { localBefore: before(cfg.local_days), expireBefore: before(cfg.archive_days) };
}

/** One line per rule in force, for the start-up log; a rule that cannot act says why. */
export function describe(cfg: RetentionConfig, archived: boolean): string[] {
  const age = (days: number) => formatDuration(days * DAY_MS);
  const out: string[] = [];
  if (archived) {
    if (cfg.local_days !== undefined)
      out.push(
        `local files of jobs ended over ${age(cfg.local_days)} ago are deleted once their archive is verified`,
      );
    if (cfg.archive_days !== undefined)
      out.push(
        `jobs ended over ${age(cfg.archive_days)} ago are deleted: archive object, job row, local file`,
      );
  } else {
    if (cfg.local_days !== undefined)
      out.push(
        `no archive is configured: jobs ended over ${age(cfg.local_days)} ago are deleted whole (local file and job row)`,
      );
    if (cfg.archive_days !== undefined)
      out.push("archive_days is set but no archive is configured: it deletes nothing");
  }
  return out;
}
