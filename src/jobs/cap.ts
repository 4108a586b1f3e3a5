// The per-job size cap: past half of max_job_bytes new lines go to a rolling window (two segment files);
// when the job ends, an elision event and the window are appended, so the end of a runaway log survives.
import { closeSync, openSync, readSync } from "node:fs";
import { AppError } from "../errors.ts";
import type { LogStore } from "../logs/store.ts";
import type { Db, JobRow } from "./db.ts";

type CapRow = {
  job_id: string;
  cur: number;
  seg0_bytes: number;
  seg0_lines: number;
  seg1_bytes: number;
  seg1_lines: number;
  elided_lines: number;
  elided_bytes: number;
};

export type Cap = ReturnType<typeof createCap>;

/** Segment files are named `~ring<N>~<job>`: never a valid job id, so never served or clobbered as one. */
const segment = (id: string, n: number) => `~ring${n}~${id}`;

export function createCap(opts: { db: Db; store: LogStore; maxJobBytes: number }) {
  const { db, store, maxJobBytes } = opts;
  const headLimit = Math.floor(maxJobBytes / 2);
  const segmentLimit = Math.max(1, Math.floor(maxJobBytes / 4));
  db.sqlite.run(`CREATE TABLE IF NOT EXISTS job_caps (
    job_id TEXT PRIMARY KEY, cur INTEGER NOT NULL DEFAULT 0,
    seg0_bytes INTEGER NOT NULL DEFAULT 0, seg0_lines INTEGER NOT NULL DEFAULT 0,
    seg1_bytes INTEGER NOT NULL DEFAULT 0, seg1_lines INTEGER NOT NULL DEFAULT 0,
    elided_lines INTEGER NOT NULL DEFAULT 0, elided_bytes INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID`);
  const get = db.sqlite.query<CapRow, [string]>("SELECT * FROM job_caps WHERE job_id = ?");
  const put = db.sqlite.query<null, CapRow>(
    `INSERT OR REPLACE INTO job_caps VALUES ($job_id, $cur, $seg0_bytes, $seg0_lines, $seg1_bytes, $seg1_lines,
     $elided_lines, $elided_bytes)`,
  );
  const drop = db.sqlite.query<null, [string]>("DELETE FROM job_caps WHERE job_id = ?");

  return {
    headLimit,
    /** Whether a batch for this running job goes to the rolling window instead of the log. */
    engaged(job: JobRow): boolean {
      return job.byte_count >= headLimit;
    },
    /** A late push to an ended job past the cap is refused: there is no window left to put it in. */
    checkLate(job: JobRow, bytes: number): void {
      if (job.byte_count + bytes > maxJobBytes) {
        throw new AppError(
          413,
          "job_too_large",
          `job ${job.id} already holds ${job.byte_count} bytes; a late push of ${bytes} bytes exceeds limits.max_job_bytes ${maxJobBytes}`,
        );
      }
    },
    /** Whether the job has a window (it hit the cap); the first hold makes one. */
    started: (id: string) => get.get(id) !== null,
    /** Appends a batch to the window; the oldest segment is dropped (elided) when the current one is full. */
    hold(job: JobRow, data: Uint8Array, lines: number, recordKey: () => void): void {
      const row = get.get(job.id) ?? emptyRow(job.id);
      let cur = row.cur;
      const bytesKey = cur === 0 ? "seg0_bytes" : "seg1_bytes";
      if (row[bytesKey] > 0 && row[bytesKey] + data.length > segmentLimit) {
        // Switch segments: the other one's lines are elided for good.
        cur = 1 - cur;
        const other = cur === 0 ? ["seg0_bytes", "seg0_lines"] : ["seg1_bytes", "seg1_lines"];
        row.elided_bytes += row[other[0] as "seg0_bytes"];
        row.elided_lines += row[other[1] as "seg0_lines"];
        store.remove(segment(job.id, cur));
        row[other[0] as "seg0_bytes"] = 0;
        row[other[1] as "seg0_lines"] = 0;
        row.cur = cur;
      }
      const b = cur === 0 ? "seg0_bytes" : "seg1_bytes";
      const l = cur === 0 ? "seg0_lines" : "seg1_lines";
      store.append(segment(job.id, cur), data, row[b]);
      row[b] += data.length;
      row[l] += lines;
      db.sqlite.transaction(() => {
        put.run(row);
        recordKey();
      })();
    },
    /**
     * Moves the window into the log when the job ends: an elision event (when anything was dropped),
     * then the surviving lines, oldest first, in bounded chunks.
     */
    release(
      job: JobRow,
      event: (message: string) => void,
      append: (text: string, lines: number) => void,
    ): void {
      const row = get.get(job.id);
      if (!row) return;
      const order = row.cur === 0 ? [1, 0] : [0, 1];
      const kept = row.seg0_lines + row.seg1_lines;
      if (row.elided_lines > 0) {
        event(
          `[limits] log exceeded limits.max_job_bytes ${maxJobBytes}: elided ${row.elided_lines} lines ` +
            `(${row.elided_bytes} bytes) after line ${job.line_count - 1}; the last ${kept} lines follow`,
        );
      }
      for (const n of order) {
        const size = n === 0 ? row.seg0_bytes : row.seg1_bytes;
        const id = segment(job.id, n);
        store.close(id);
        if (size > 0) forEachChunk(store.jsonlPath(id), size, append);
        store.remove(id);
      }
      drop.run(job.id);
    },
  };
}

function emptyRow(job_id: string): CapRow {
  return {
    job_id,
    cur: 0,
    seg0_bytes: 0,
    seg0_lines: 0,
    seg1_bytes: 0,
    seg1_lines: 0,
    elided_lines: 0,
    elided_bytes: 0,
  };
}

/** Reads `size` bytes of a JSONL file in ~4 MiB chunks cut at line ends. */
function forEachChunk(path: string, size: number, fn: (text: string, lines: number) => void): void {
  const fd = openSync(path, "r");
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let pos = 0;
  let carry = Buffer.alloc(0);
  try {
    while (pos < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n === 0) break;
      pos += n;
      const data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
      const end = data.lastIndexOf(10) + 1;
      if (end > 0) {
        const chunk = data.subarray(0, end);
        let lines = 0;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
        fn(chunk.toString("utf8"), lines);
      }
      carry = Buffer.from(data.subarray(end));
    }
  } finally {
    closeSync(fd);
  }
}
