// The repositories: every read and write of the service's state, each method one atomic unit. The SQLite
// implementation (state/sqlite/) is the embedded one; a PostgreSQL one implements the same interfaces.
import type { Job } from "../core/job.ts";
import type { JobStatus, TerminalStatus } from "../protocol/status.ts";

/** What a retried batch is answered: the run its first try got. */
export interface BatchAnswer {
  first: number;
  next: number;
  truncated: number;
  /** Lines of the batch that went to the size-cap window. */
  held: number;
}

/** A batch's idempotency key and its answer, recorded in the commit that writes the batch. */
export interface KeyRecord {
  key: string;
  answer: BatchAnswer;
}

/**
 * The rolling window of a job past its size cap: two segment files, their recorded sizes and lines, how
 * much of each was already moved into the log at release, and what was elided.
 */
export type CapWindow = {
  job_id: string;
  /** The segment new lines go to. */
  cur: number;
  seg0_bytes: number;
  seg0_lines: number;
  seg1_bytes: number;
  seg1_lines: number;
  rel0: number;
  rel1: number;
  elided_lines: number;
  elided_bytes: number;
  /** 1 once the release's elision event is in the log. */
  event_done: number;
};

export interface NewJob {
  id: string;
  workspace: string;
  task: string;
  created_at: number;
  now: number;
  /** A file left by a Strøm server, adopted: its complete lines, their bytes and its sparse index. */
  line_count: number;
  byte_count: number;
  checkpoints: ReadonlyArray<readonly [line: number, offset: number]>;
}

/** A committed run of lines: the job's counters, and what commits with them. */
export interface AppendCommit {
  id: string;
  /** The run starts at the job's committed end: line `first`, byte `offset`. */
  first: number;
  offset: number;
  lines: number;
  bytes: number;
  /** Lines of the run that count as late (pushed after the job ended). */
  late: number;
  now: number;
  /** The sparse line index gets an entry at (first, offset) when its last one is this many lines back. */
  checkpointEvery: number;
  key?: KeyRecord | undefined;
  /** The size-cap window as it stands with this run committed (a batch's held part, a release's progress). */
  window?: CapWindow | undefined;
}

export interface JobFilter {
  status?: JobStatus | undefined;
  workspace?: string | undefined;
  task?: string | undefined;
  limit: number;
  /** Jobs created before this (a page's keyset cursor). */
  before?: number | undefined;
  /** Jobs after this one in the list's order (newest first, ties by id descending): the next page's keyset. */
  after?: { created_at: number; id: string } | undefined;
}

export interface JobsRepository {
  get(id: string): Promise<Job | null>;
  /** Inserts a pending job with its adopted counts and sparse index; a job with this id must not exist. */
  create(job: NewJob): Promise<Job>;
  /** Changes a job's identity (workspace, task, created_at). */
  edit(
    id: string,
    fields: { workspace: string; task: string; created_at: number },
    now: number,
  ): Promise<Job>;
  /** Records activity (a heartbeat, a held batch): recovery counts silence from here. */
  touch(id: string, now: number): Promise<void>;
  /** The commit point of an append: counters, activity, pending → running, plus its index entry, key and window. */
  commitAppend(c: AppendCommit): Promise<Job>;
  finish(id: string, status: TerminalStatus, error: string | null, now: number): Promise<Job>;
  /** Marks the terminal pipeline's completion work done. */
  settle(id: string, now: number): Promise<Job>;
  /** Pending and running jobs with no activity since `cutoff`. */
  stale(cutoff: number): Promise<Job[]>;
  /** Terminal jobs whose completion work did not finish, oldest end first. */
  unsettled(): Promise<Job[]>;
  /** Newest first (created_at, then id). */
  list(filter: JobFilter): Promise<Job[]>;
  /** Jobs per status, every status present. */
  countByStatus(): Promise<Record<JobStatus, number>>;
}

export interface IdempotencyRepository {
  /** The answer recorded for this batch key of this job, or null. */
  get(jobId: string, key: string): Promise<BatchAnswer | null>;
}

export interface LineIndexRepository {
  /** The sparse index's entry at or before `line`: where to start reading for it (line 0 at offset 0 when none). */
  at(jobId: string, line: number): Promise<{ line: number; offset: number }>;
}

export interface CapsRepository {
  /** Every job with a window. */
  ids(): Promise<string[]>;
  get(jobId: string): Promise<CapWindow | null>;
  put(window: CapWindow): Promise<void>;
  /**
   * A batch held whole in the window (none of it reaches the log): the window, the batch's key and the job's
   * activity commit together.
   */
  hold(c: { window: CapWindow; key?: KeyRecord | undefined; now: number }): Promise<void>;
  drop(jobId: string): Promise<void>;
}

/**
 * `pending`: waiting for its first (or a new) upload; `uploading`: an attempt is running; `retrying`:
 * the last attempt failed, the next waits for its backoff; `uploaded`: its content verified and covering every line.
 */
export type ArchiveStateName = "pending" | "uploading" | "retrying" | "uploaded";

export interface ArchiveRow {
  job_id: string;
  key: string;
  state: ArchiveStateName;
  /** Attempts made, failed or not, over the job's life. */
  attempts: number;
  /** Failures since the last verified upload; drives the backoff and the once-only server event. */
  failures: number;
  last_error: string | null;
  /** When the last verified upload finished; null until one did. */
  uploaded_at: number | null;
  /** Size of the stored (compressed) object, as verified. */
  bytes: number;
  /** SHA-256 (hex) of the stored object, read back and compared with the bytes compressed; null until verified. */
  sha256: string | null;
  /** Log bytes the stored object holds: the job's committed bytes when the upload started. */
  log_bytes: number;
  next_attempt_at: number;
  /** 1 once the local file was removed after a verified upload (delete_local_after_archive). */
  local_deleted: number;
  /** The key this job's archive may be written at (found empty, or beside a foreign object); null until looked at. */
  claimed_key: string | null;
}

export interface ArchivesRepository {
  get(jobId: string): Promise<ArchiveRow | null>;
  /** Records the archive step before it starts; a second call for the same job changes nothing. */
  enqueue(jobId: string, key: string, now: number): Promise<void>;
  setState(jobId: string, state: ArchiveStateName): Promise<void>;
  /** An attempt starts: `uploading`, under `key`, one more attempt counted. */
  begin(jobId: string, key: string): Promise<void>;
  /** Records the key the job's archive may be written at (archive/foreign.ts), before anything is written there. */
  claim(jobId: string, key: string): Promise<void>;
  /** A verified upload: `uploaded` when it covers every committed byte, else `pending` (late lines came). */
  uploaded(
    jobId: string,
    r: { complete: boolean; bytes: number; sha256: string; log_bytes: number; now: number },
  ): Promise<void>;
  failed(jobId: string, error: string, nextAttemptAt: number): Promise<void>;
  setLocalDeleted(jobId: string, deleted: boolean): Promise<void>;
  /** Archives with work left: not uploaded, or uploaded before late lines arrived; soonest first. */
  unfinished(): Promise<ArchiveRow[]>;
  /** Settled jobs the queue never saw (the process died between settling and enqueueing). */
  missing(): Promise<string[]>;
  /** Archives not uploaded. */
  waiting(): Promise<number>;
  /** Archives per state, every state present. */
  counts(): Promise<Record<ArchiveStateName, number>>;
}

export interface Candidate {
  id: string;
  finished_at: number;
}

export interface PendingObject {
  key: string;
  job_id: string;
  queued_at: number;
  attempts: number;
  last_error: string | null;
}

/** Keyset cursor over (finished_at, id): a page never revisits a job, whatever the previous page did. */
export interface Cursor {
  at: number;
  id: string;
}

export const START: Cursor = { at: Number.MIN_SAFE_INTEGER, id: "" };

export interface RetentionRepository {
  /** Settled jobs ended before `before` whose verified archive covers every byte and whose local file is still there. */
  localPage(before: number, after: Cursor, limit: number): Promise<Candidate[]>;
  /** Jobs ended before `before` whose local file is kept because no verified archive covers it. */
  held(before: number): Promise<number>;
  /**
   * Settled jobs ended before `before`. With an archive (`archived`) only those whose archive was verified at
   * least once: a job whose archive never went up keeps its only copy, the local file, until it does.
   */
  expirePage(before: number, after: Cursor, limit: number, archived: boolean): Promise<Candidate[]>;
  /** Deletes a job's rows (job, keys, line index, archive) and queues its archive object, in one commit. */
  forget(jobId: string, now: number): Promise<void>;
  /** Queued archive objects after `after` (by key). */
  objectsPage(after: string, limit: number): Promise<PendingObject[]>;
  objectFailed(key: string, error: string): Promise<void>;
  dropObject(key: string): Promise<void>;
  /** True when a live job's archive uses this key (a job re-created under the same id): not ours to delete. */
  keyLive(key: string): Promise<boolean>;
  pendingObjects(): Promise<number>;
}

/**
 * A job's registered secrets as stored. The values themselves are only ever stored sealed (AES-GCM, sealed
 * and opened by masking/vault.ts); without a key they are not stored at all, and the row records only that
 * the job has secrets (so a restart knows its pushes can no longer be masked).
 */
export type SecretsRow = {
  job_id: string;
  /** Distinct values registered. */
  count: number;
  /** The sealed values (iv ‖ ciphertext ‖ tag); null when kept in memory only, and once forgotten. */
  sealed: Uint8Array | null;
  /** When the values were deleted (the job can no longer receive lines); null while they are kept. */
  forgotten_at: number | null;
  updated_at: number;
};

export interface SecretsRepository {
  /** Every job with secrets, forgotten ones included (read once at start-up). */
  all(): Promise<SecretsRow[]>;
  /** Records (or replaces) a job's row. */
  put(row: SecretsRow): Promise<void>;
  /** Deletes the values and keeps the row (count, forgotten_at): the job's later lines are refused. */
  forget(jobId: string, now: number): Promise<void>;
  /** Deletes the row (the job itself is gone). */
  drop(jobId: string): Promise<void>;
}

export interface Repositories {
  jobs: JobsRepository;
  idempotency: IdempotencyRepository;
  lineIndex: LineIndexRepository;
  caps: CapsRepository;
  archives: ArchivesRepository;
  retention: RetentionRepository;
  secrets: SecretsRepository;
  /** Resolves when the state answers a trivial query (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A write the state refused. `full`: no space left (the disk under SQLite, a tablespace): answered 507 like a
 * full log disk. The original error is the `cause`.
 */
export class StateError extends Error {
  constructor(
    readonly kind: "full" | "failed",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StateError";
  }
}
