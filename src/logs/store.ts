// The local tier: one append-only JSONL file per job, written with synchronous writes through an LRU of handles.
import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors.ts";

export interface LogStoreOptions {
  dir: string;
  maxOpenFiles: number;
  /** fdatasync after every batch: survives power loss, not only a crash of the process. */
  fsync: boolean;
  /** Told when a file held bytes past the recorded end (a batch written but never acknowledged). */
  onDiscard?: (jobId: string, bytes: number) => void;
  /** Told when writes start failing (what the last one said) and when one succeeds again (null). */
  onHealth?: (failing: { code: string; message: string } | null) => void;
}

export type LogStore = ReturnType<typeof createLogStore>;

/** What the readiness probe writes: about one batch, so success means a push would fit. */
const PROBE = new Uint8Array(64 * 1024);

export function createLogStore(opts: LogStoreOptions) {
  const { dir } = opts;
  // Map iteration order is insertion order: re-inserting on use makes the first key the least recent.
  const handles = new Map<string, number>();
  /** The last failed write, until a write succeeds again (readiness reports it). */
  let failing: { code: string; message: string } | null = null;
  const setFailing = (f: { code: string; message: string } | null) => {
    const changed = (f === null) !== (failing === null) || (f !== null && f.code !== failing?.code);
    failing = f;
    if (changed) opts.onHealth?.(f);
  };

  const jsonlPath = (id: string) => join(dir, `${id}.jsonl`);
  const legacyPath = (id: string) => join(dir, `${id}.log`);

  function open(id: string, expectedSize: number): number {
    const existing = handles.get(id);
    if (existing !== undefined) {
      handles.delete(id);
      handles.set(id, existing);
      return existing;
    }
    // Not O_APPEND: every write goes at the recorded end (pwrite), so bytes left by a failed commit can
    // never shift where the next batch lands.
    const flags = constants.O_WRONLY | constants.O_CREAT;
    let fd: number;
    try {
      fd = openSync(jsonlPath(id), flags, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw storageError(e, id);
      try {
        mkdirSync(dir, { recursive: true });
        fd = openSync(jsonlPath(id), flags, 0o644);
      } catch (e2) {
        throw storageError(e2, id);
      }
    }
    const size = fstatSync(fd).size;
    if (size > expectedSize) {
      // Bytes past the recorded end were written by a batch whose acknowledgement never happened
      // (the process died in between): the client retries that batch, so the tail must go.
      ftruncateSync(fd, expectedSize);
      opts.onDiscard?.(id, size - expectedSize);
    } else if (size < expectedSize) {
      closeSync(fd);
      throw new AppError(
        409,
        "local_log_missing",
        `local log of job ${id} holds ${size} bytes but ${expectedSize} were recorded (removed after archival?)`,
      );
    }
    handles.set(id, fd);
    while (handles.size > opts.maxOpenFiles) {
      const [oldId, oldFd] = handles.entries().next().value as [string, number];
      handles.delete(oldId);
      closeSync(oldFd);
    }
    return fd;
  }

  /**
   * Appends `data` at `expectedSize` (the recorded end of the job's log) and returns the new size.
   * The write is synchronous: when this returns, the bytes are in the OS and survive a kill of the
   * process. A failed write leaves the file as it was — never a torn line.
   */
  function append(id: string, data: Uint8Array, expectedSize: number): number {
    try {
      const fd = open(id, expectedSize);
      write(id, fd, data, expectedSize);
    } catch (e) {
      const err = storageError(e, id);
      if (err.status >= 500) setFailing({ code: err.code, message: err.message });
      throw err;
    }
    if (failing !== null) setFailing(null);
    return expectedSize + data.length;
  }

  function write(id: string, fd: number, data: Uint8Array, expectedSize: number): void {
    let written = 0;
    try {
      while (written < data.length) {
        written += writeSync(fd, data, written, data.length - written, expectedSize + written);
      }
      if (opts.fsync) fdatasyncSync(fd);
    } catch (e) {
      try {
        ftruncateSync(fd, expectedSize);
      } catch {
        // The error thrown already says the disk is unwell; the recorded size still bounds every read.
      }
      close(id);
      throw e;
    }
  }

  /**
   * Cuts the job's file back to `size` and drops its handle: a batch written to the file whose commit
   * then failed must not stay behind it. `failure` is reported by readiness until a write succeeds.
   */
  function cut(id: string, size: number, failure: { code: string; message: string }): void {
    setFailing(failure);
    const fd = handles.get(id);
    try {
      if (fd !== undefined) ftruncateSync(fd, size);
      else truncateSync(jsonlPath(id), size);
    } catch {
      // Reads stop at the recorded size and the next open cuts the file: the bytes are never served.
    }
    close(id);
  }

  /**
   * Null while writes succeed; else what the last failed write said. Behind a load balancer a node that
   * answers 503 gets no pushes, so no push would ever clear it: while failing, each check probes with a
   * small write of its own and clears the failure once one succeeds.
   */
  function health(): string | null {
    const failed = failing;
    if (failed === null) return null;
    const probe = join(dir, ".readyz-probe");
    try {
      writeFileSync(probe, PROBE);
      setFailing(null);
    } catch {
      // Still failing: report what the last real write said.
    }
    try {
      rmSync(probe, { force: true });
    } catch {
      // A read-only directory cannot hold the probe either.
    }
    return failing === null ? null : `local_dir: ${failed.code}: ${failed.message}`;
  }

  /**
   * Counts the complete lines of a job's existing file, with a checkpoint (line, byte offset) every `every`
   * lines; a torn last line is not counted. For adopting a file a Strøm server left behind.
   */
  function countLines(
    id: string,
    every: number,
  ): { lines: number; bytes: number; checkpoints: [number, number][] } {
    const path = jsonlPath(id);
    if (!existsSync(path)) return { lines: 0, bytes: 0, checkpoints: [] };
    const fd = openSync(path, "r");
    const buf = Buffer.allocUnsafe(1 << 20);
    let lines = 0;
    let pos = 0;
    let bytes = 0;
    const checkpoints: [number, number][] = [];
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) break;
        for (let i = buf.indexOf(10); i !== -1 && i < n; i = buf.indexOf(10, i + 1)) {
          lines++;
          bytes = pos + i + 1;
          if (lines % every === 0) checkpoints.push([lines, bytes]);
        }
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
    return { lines, bytes, checkpoints };
  }

  function close(id: string): void {
    const fd = handles.get(id);
    if (fd === undefined) return;
    handles.delete(id);
    closeSync(fd);
  }

  return {
    dir,
    jsonlPath,
    legacyPath,
    append,
    countLines,
    cut,
    close,
    openHandles: () => handles.size,
    /** Null while writes succeed; else what the last failed write said. */
    health,
    /** Size of the job's JSONL file, or null when there is none. */
    size(id: string): number | null {
      try {
        return statSync(jsonlPath(id)).size;
      } catch {
        return null;
      }
    },
    hasLegacy: (id: string) => existsSync(legacyPath(id)),
    remove(id: string): void {
      close(id);
      rmSync(jsonlPath(id), { force: true });
    },
    closeAll(): void {
      for (const id of [...handles.keys()]) close(id);
    },
  };
}

function storageError(e: unknown, id: string): AppError {
  const err = e as NodeJS.ErrnoException;
  if (err instanceof AppError) return err;
  if (err.code === "ENOSPC" || err.code === "EDQUOT") {
    return new AppError(
      507,
      "disk_full",
      `no space left to write the log of job ${id}; retry later`,
      {
        "Retry-After": "30",
      },
      err,
    );
  }
  if (err.code === "EACCES" || err.code === "EROFS" || err.code === "EPERM") {
    return new AppError(
      503,
      "storage_unwritable",
      `log directory is not writable (${err.code}) for job ${id}`,
      {
        "Retry-After": "30",
      },
      err,
    );
  }
  return new AppError(
    503,
    "storage_error",
    `writing the log of job ${id} failed: ${err.message}`,
    {
      "Retry-After": "5",
    },
    err,
  );
}
