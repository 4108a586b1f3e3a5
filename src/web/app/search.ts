// A search across the whole log: pages of matching line numbers from the server (all of the log, not just
// what is loaded), plus the lines the live stream brings while and after it runs.
import { searchPage } from "./api.ts";

export interface SearchQuery {
  text: string;
  regex: boolean;
  icase: boolean;
}

/** Matches kept; past this the search stops and says so (refine it). */
export const MAX_MATCHES = 1_000_000;

/** The test the server applies, for lines the page receives live; null when the pattern does not compile. */
export function lineTester(q: SearchQuery): ((text: string) => boolean) | null {
  if (!q.regex && !q.icase) return (t) => t.includes(q.text);
  try {
    const re = new RegExp(
      q.regex ? q.text : q.text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"),
      q.icase ? "i" : "",
    );
    return (t) => re.test(t);
  } catch {
    return null;
  }
}

/** Ranges of the displayed text to mark. */
export function markRanges(q: SearchQuery): (text: string) => Array<[number, number]> {
  let re: RegExp;
  try {
    re = new RegExp(q.regex ? q.text : q.text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"), q.icase ? "gi" : "g");
  } catch {
    return () => [];
  }
  return (text) => {
    const out: Array<[number, number]> = [];
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null && out.length < 200; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      out.push([m.index, m.index + m[0].length]);
    }
    return out;
  };
}

/** First index in ascending `xs` whose value is ≥ `x` (xs.length when none). */
export function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SearchRun {
  readonly matches: number[] = [];
  done = false;
  /** The server's scan reached this line. */
  scanned = 0;
  error: string | null = null;
  capped = false;
  private stopped = false;
  /** Live lines that matched before the server's scan finished (merged past its end). */
  private early: number[] = [];
  private readonly test: ((text: string) => boolean) | null;

  constructor(
    private readonly jobId: string,
    readonly query: SearchQuery,
    readonly step: string | null,
    private readonly changed: () => void,
  ) {
    this.test = lineTester(query);
    void this.run();
  }

  private async run(): Promise<void> {
    const params = new URLSearchParams();
    params.set(this.query.regex ? "re" : "q", this.query.text);
    if (this.query.icase) params.set("icase", "true");
    if (this.step !== null) params.set("step", this.step);
    let from = 0;
    // The first page asks for one match: it answers as soon as there is one to show.
    let limit = 1;
    try {
      while (!this.stopped) {
        params.set("from", String(from));
        params.set("limit", String(limit));
        const page = await searchPage(this.jobId, params);
        if (this.stopped) return;
        for (const m of page.matches) this.matches.push(m);
        this.scanned = page.next;
        from = page.next;
        limit = 10_000;
        if (this.matches.length >= MAX_MATCHES) {
          this.capped = true;
          this.done = true;
        } else if (page.done) {
          this.done = true;
          for (const n of this.early) if (n >= this.scanned) this.matches.push(n);
          this.early = [];
        }
        this.changed();
        if (this.done) return;
      }
    } catch (e) {
      this.error = (e as Error).message;
      this.done = true;
      this.changed();
    }
  }

  /** A line that arrived live (every line of the job, in order). */
  live(n: number, text: string, step: string): void {
    if (this.test === null || this.capped || (this.step !== null && step !== this.step)) return;
    if (!this.test(text)) return;
    if (!this.done) this.early.push(n);
    else if (n >= this.scanned && (this.matches.length === 0 || n > this.matches[this.matches.length - 1]!)) {
      this.matches.push(n);
      this.changed();
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
