// Where archives go: the interface both targets (S3, a local directory) implement, and error wording.

export interface ArchiveTarget {
  /** `s3://bucket/prefix (endpoint …)` or `local directory /path`, for messages. */
  readonly where: string;
  /** Where one key lives, for messages: `s3://bucket/key` or a path. */
  locate(key: string): string;
  /** Stores `body` under `key`, replacing what was there; resolves once the store acknowledged all of it. */
  put(key: string, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void>;
  /**
   * The stored (compressed) bytes, streamed. Rejects when the object cannot be opened. `use` says who reads:
   * a client's read of the log, or the archiver itself (verification, restoring a local file).
   */
  get(key: string, use?: ReadUse): Promise<AsyncIterable<Uint8Array>>;
  /**
   * Stored bytes [start, end) of `key`, streamed: one ranged GET (a seek into a single-member archive).
   * Rejects when the object cannot be opened; yields fewer bytes when the object is shorter. Client reads
   * pass through the same read gate as `get`.
   */
  getRange(key: string, start: number, end: number, use?: ReadUse): Promise<AsyncIterable<Uint8Array>>;
  /** Client reads of the archive: holding a connection, waiting for one, stalled reads dropped and resumed. */
  readStats?(): Record<string, number>;
  /** Removes the object under `key` (retention); resolves also when there was none. */
  delete(key: string): Promise<void>;
  /** Tests that the target is reachable and (with `write`) writable: null when fine, else what is wrong. */
  check(opts: { write: boolean }): Promise<string | null>;
}

export type ReadUse = "read" | "archiver";

/** A failure of the archive target (network, permissions, missing bucket), as opposed to a local one. */
export class TargetError extends Error {
  constructor(
    message: string,
    readonly kind: "unreachable" | "denied" | "missing" | "other",
    /** The SDK's or the file system's error underneath. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "TargetError";
  }
}

/** The first useful line of an error, with a system error code when there is one. */
export function reason(e: unknown): string {
  const err = e as { message?: string; code?: string; name?: string };
  const msg = (err?.message ?? String(e)).split("\n")[0]!;
  return err?.code && !msg.includes(err.code) ? `${err.code}: ${msg}` : msg;
}
