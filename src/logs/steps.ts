// The steps of a job's log: each step's line count, first and last line, streams and runs of lines, from one
// scan that is kept and extended as the log grows.

import { parseLine } from "../core/line.ts";
import { breather, openRaw, type RawDeps, type RawLog } from "./blocks.ts";

export interface StepSummary {
  name: string;
  lines: number;
  first: number;
  last: number;
  stdout: number;
  stderr: number;
  /** Contiguous runs `[first, next)` of the step's lines, ascending (up to `MAX_RUNS`). */
  runs: Array<[number, number]>;
  /** False when the step has more runs than are kept (steps interleaved line by line). */
  runs_complete: boolean;
}

export interface StepsAnswer {
  source: RawLog["source"];
  /** Lines scanned: the log's line count when the summary was made. */
  lines: number;
  steps: StepSummary[];
  /** The step of the log's last line (the one running, while the job runs). */
  last_step: string | null;
  /** Lines that are not log-line objects (a legacy .log, garbage), in no step. */
  other_lines: number;
  /** True when more distinct steps appeared than are kept; their lines count as `other_lines`. */
  steps_truncated: boolean;
}

export const MAX_RUNS = 1000;
export const MAX_STEPS = 10_000;
/** Runs kept over all steps of one job: a summary's memory stays bounded (steps that interleave pay). */
export const MAX_TOTAL_RUNS = 100_000;

type Acc = StepSummary;

/** The summary being built: fed blocks of whole lines in order. Pure apart from the time it takes. */
export function createStepScan() {
  const byName = new Map<string, Acc>();
  let line = 0;
  let other = 0;
  let truncated = false;
  let lastStep: string | null = null;
  let prev: Acc | null = null; // the step of the previous line, when it ran up to it
  let runs = 0;

  function add(name: string, stderr: boolean): void {
    let acc = prev !== null && prev.name === name ? prev : byName.get(name);
    if (acc === undefined) {
      if (byName.size >= MAX_STEPS) {
        truncated = true;
        other++;
        prev = null;
        lastStep = null;
        return;
      }
      acc = {
        name,
        lines: 0,
        first: line,
        last: line,
        stdout: 0,
        stderr: 0,
        runs: [],
        runs_complete: true,
      };
      byName.set(name, acc);
    }
    acc.lines++;
    if (stderr) acc.stderr++;
    else acc.stdout++;
    const run = acc.runs[acc.runs.length - 1];
    if (run !== undefined && run[1] === line) run[1] = line + 1;
    else if (acc.runs_complete && acc.runs.length < MAX_RUNS && runs < MAX_TOTAL_RUNS) {
      acc.runs.push([line, line + 1]);
      runs++;
    } else acc.runs_complete = false;
    acc.last = line;
    prev = acc;
    lastStep = name;
  }

  let prevBytes: Buffer = Buffer.alloc(0); // the previous line's step name as stored

  /**
   * Reads the step and stream of each line of `buf[start, end)` (whole lines; the last may lack its newline).
   * A loop over the bytes: decoding a block to a string first cost ~3× the time (fresh memory on every block).
   */
  function feed(buf: Buffer, start: number, end: number): void {
    const u = buf as Uint8Array;
    for (let s = start; s < end; ) {
      // The contract's shape: {"ts":"…","stream":"stdout|stderr","step":"NAME","line":…}. The first
      // `"step":"` is the key: no value before it can hold a quote.
      let k = s;
      let e = -1;
      for (; k < end; k++) {
        const c = u[k];
        if (c === 10) {
          e = k;
          break;
        }
        if (
          c === 0x22 &&
          u[k + 1] === 0x73 &&
          u[k + 2] === 0x74 &&
          u[k + 3] === 0x65 &&
          u[k + 4] === 0x70 &&
          u[k + 5] === 0x22 &&
          u[k + 6] === 0x3a &&
          u[k + 7] === 0x22
        )
          break;
      }
      let q = -1;
      let escaped = false;
      if (e === -1 && k < end) {
        for (q = k + 8; q < end; q++) {
          const c = u[q];
          if (c === 0x22 || c === 10) break;
          if (c === 0x5c) escaped = true;
        }
        for (e = q; e < end && u[e] !== 10; e++);
      }
      if (e === -1) e = end;
      if (e === s) {
        other++; // an empty line is a line too
        prev = null;
        lastStep = null;
      } else if (
        q !== -1 &&
        q < e &&
        u[q] === 0x22 &&
        !escaped &&
        u[k - 1] === 0x2c &&
        u[k - 2] === 0x22 &&
        u[k - 8] === 0x73 &&
        u[k - 7] === 0x74 &&
        u[k - 6] === 0x64 &&
        // …and the rest is `,"line":"…"}`: a cut-off or odd line takes the full parse, as reads do
        u[q + 1] === 0x2c &&
        u[q + 2] === 0x22 &&
        u[q + 3] === 0x6c &&
        u[q + 7] === 0x22 &&
        u[q + 9] === 0x22 &&
        e - 2 > q + 9 &&
        u[e - 1] === 0x7d &&
        u[e - 2] === 0x22
      ) {
        const len = q - k - 8;
        let same = prev !== null && len === prevBytes.length;
        for (let j = 0; same && j < len; j++) if (prevBytes[j] !== u[k + 8 + j]) same = false;
        if (same) add(prev!.name, u[k - 3] === 0x72);
        else {
          prevBytes = Buffer.from(buf.subarray(k + 8, q));
          add(prevBytes.toString("utf8"), u[k - 3] === 0x72); // "stderr" ends in r
        }
      } else {
        const parsed = parseLine(buf.toString("utf8", s, e));
        if (parsed === null) {
          other++;
          prev = null;
          lastStep = null;
        } else {
          prevBytes = Buffer.from(JSON.stringify(parsed.step).slice(1, -1));
          add(parsed.step, parsed.stream === "stderr");
        }
      }
      line++;
      s = e + 1;
    }
  }

  return {
    feed,
    get lines() {
      return line;
    },
    answer(source: RawLog["source"]): StepsAnswer {
      const steps = [...byName.values()]
        .sort((a, b) => a.first - b.first)
        .map((s) => ({ ...s, runs: s.runs.map((r) => [r[0], r[1]] as [number, number]) }));
      return {
        source,
        lines: line,
        steps,
        last_step: lastStep,
        other_lines: other,
        steps_truncated: truncated,
      };
    },
  };
}

export interface StepsDeps extends RawDeps {
  /** Jobs whose summary is kept between requests (least recently asked for goes first). */
  cacheJobs?: number;
}

export type Steps = ReturnType<typeof createSteps>;

interface Cached {
  scan: ReturnType<typeof createStepScan>;
  source: RawLog["source"];
  /** Bytes scanned (an indexed log continues from here). */
  offset: number;
  /** For a log that cannot be continued: what it was when scanned. */
  stamp: string;
}

export function createSteps(deps: StepsDeps) {
  const max = deps.cacheJobs ?? 32;
  const cache = new Map<string, Cached>();
  const running = new Map<string, Promise<StepsAnswer | null>>();

  /** The summary of job `id` now; null when no tier holds its log. Concurrent asks share one scan. */
  function summary(id: string): Promise<StepsAnswer | null> {
    const inflight = running.get(id);
    if (inflight !== undefined) return inflight.then(() => summary(id));
    const p = compute(id).finally(() => running.delete(id));
    running.set(id, p);
    return p;
  }

  async function compute(id: string): Promise<StepsAnswer | null> {
    const raw = await openRaw(deps, id);
    if (raw === null) return null;
    const fresh = (stamp: string): Cached => ({
      scan: createStepScan(),
      source: raw.source,
      offset: 0,
      stamp,
    });
    let c = cache.get(id);
    cache.delete(id);
    if (raw.indexed) {
      // A local log only grows: continue where the last scan stopped.
      const end = raw.job!.byte_count;
      if (c === undefined || c.source !== raw.source || c.offset > end) c = fresh("");
      cache.set(id, c); // a scan that fails part-way keeps what it read: its offset stops at a whole block
      if (c.offset < end) await scan(raw, c);
    } else {
      // A log that cannot be continued is summed up again when it changed (or moved to another tier).
      const stamp = `${raw.source}:${raw.job?.byte_count ?? ""}`;
      if (c === undefined || c.stamp !== stamp) {
        c = fresh(stamp);
        await scan(raw, c);
      }
      cache.set(id, c);
    }
    while (cache.size > max) cache.delete(cache.keys().next().value!);
    return c.scan.answer(raw.source);
  }

  async function scan(raw: RawLog, c: Cached): Promise<void> {
    const pause = breather();
    for await (const b of raw.blocks(c.offset)) {
      c.scan.feed(b.buf, 0, b.end);
      c.offset = b.offset + b.end;
      await pause();
    }
  }

  return { summary };
}
