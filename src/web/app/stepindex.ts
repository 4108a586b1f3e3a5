// Which lines of the job's log belong to one step: row k of a step view ↔ line number, from the server's runs,
// search pages where the runs were cut short, and the live stream — pure, no I/O.

/** Ascending runs of line numbers with prefix counts: row k ↔ line n in O(log runs). */
export class RunList {
  private starts: number[] = [];
  private ends: number[] = [];
  private before: number[] = [];

  get count(): number {
    const i = this.starts.length - 1;
    return i < 0 ? 0 : this.before[i]! + this.ends[i]! - this.starts[i]!;
  }

  /** The next line is the last end: a run grows; otherwise a run starts. Lines must ascend. */
  addRun(first: number, next: number): void {
    const i = this.starts.length - 1;
    if (i >= 0 && this.ends[i] === first) {
      this.ends[i] = next;
      return;
    }
    this.before.push(this.count);
    this.starts.push(first);
    this.ends.push(next);
  }

  add(line: number): void {
    this.addRun(line, line + 1);
  }

  /** The line of row `k`, or null past the end. */
  lineOf(k: number): number | null {
    if (k < 0 || k >= this.count) return null;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.before[mid]! <= k) lo = mid;
      else hi = mid - 1;
    }
    return this.starts[lo]! + (k - this.before[lo]!);
  }

  /** The row of the first listed line at or after `line`, or `count` when none is. */
  rowAtOrAfter(line: number): number {
    let lo = 0;
    let hi = this.starts.length; // first run whose end is past `line`
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= line) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.starts.length) return this.count;
    return this.before[lo]! + Math.max(0, line - this.starts[lo]!);
  }

  /** The row of `line`, or null when it is not listed. */
  rowOf(line: number): number | null {
    const k = this.rowAtOrAfter(line);
    return this.lineOf(k) === line ? k : null;
  }

  get last(): number | null {
    const i = this.ends.length - 1;
    return i < 0 ? null : this.ends[i]! - 1;
  }
}

export interface StepSummary {
  name: string;
  lines: number;
  runs: Array<[number, number]>;
  runs_complete: boolean;
}

/**
 * One step's rows. The summary counts the step exactly up to `upTo` (the lines it scanned) but may list only
 * its first runs; the rows after those are filled by search pages (`extend`) as they are needed. Lines from
 * `upTo` on come from the live stream (`live`), which delivers every line of the job in order.
 */
export class StepIndex {
  private head = new RunList();
  private tail = new RunList();
  /** The head lists every line of the step below this line. */
  private scanned: number;
  private readonly headCount: number;

  constructor(
    readonly step: string,
    summary: StepSummary,
    /** Lines the summary scanned. */
    readonly upTo: number,
  ) {
    for (const [a, b] of summary.runs) this.head.addRun(a, b);
    this.headCount = summary.lines;
    this.scanned = summary.runs_complete ? upTo : (this.head.last ?? -1) + 1;
    if (this.head.count >= this.headCount) this.scanned = upTo;
  }

  get count(): number {
    return this.headCount + this.tail.count;
  }

  /** True when every row's line is known (no search needed to place a row). */
  get complete(): boolean {
    return this.scanned >= this.upTo;
  }

  /** Where a search for more of the head must start (`complete` false). */
  get searchFrom(): number {
    return this.scanned;
  }

  /** The line of row `k`; null when it is not known yet (a search page will tell) or past the end. */
  lineOf(k: number): number | null {
    if (k < this.head.count) return this.head.lineOf(k);
    if (k < this.headCount) return null;
    return this.tail.lineOf(k - this.headCount);
  }

  /** Rows known so far (a prefix of the head, then the live tail). */
  knownRows(k: number): boolean {
    return k < this.head.count || k >= this.headCount;
  }

  /** The row of the first step line at or after `line`; null when that is in the unknown part of the head. */
  rowAtOrAfter(line: number): number | null {
    if (line >= this.upTo) return this.headCount + this.tail.rowAtOrAfter(line);
    const k = this.head.rowAtOrAfter(line);
    if (k < this.head.count) return k;
    return this.complete ? this.headCount + this.tail.rowAtOrAfter(line) : null;
  }

  /** The row of `line`, or null when the line is not (known to be) the step's. */
  rowOf(line: number): number | null {
    const k = this.rowAtOrAfter(line);
    return k !== null && this.lineOf(k) === line ? k : null;
  }

  /** A search page over this step's lines from `searchFrom`: `matches` are its lines, `next` its cursor. */
  extend(matches: readonly number[], next: number): void {
    for (const m of matches) {
      if (m >= this.scanned && m < this.upTo) this.head.add(m);
    }
    this.scanned = Math.max(this.scanned, Math.min(next, this.upTo));
    if (this.head.count >= this.headCount) this.scanned = this.upTo;
  }

  /** A line of this step from the live stream. */
  live(line: number): void {
    if (line >= this.upTo && (this.tail.last === null || line > this.tail.last)) this.tail.add(line);
  }
}
