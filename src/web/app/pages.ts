// The rows of one view (the whole log or one step), loaded by cursor in pages as they come into view and
// dropped least recently used: the page holds a bounded number of lines whatever the log's size.
import type { ViewLine } from "./logline.ts";

export const PAGE = 256;

interface Page {
  lines: ViewLine[];
  loading: boolean;
  error: string | null;
  used: number;
}

export interface PagesOptions {
  /** Rows [k, k + n) of the view. Fewer at the end of the log. */
  load(k: number, n: number): Promise<ViewLine[]>;
  /** A page arrived (or failed): re-render. */
  changed(): void;
  maxPages?: number;
  maxInFlight?: number;
}

export class Pages {
  private pages = new Map<number, Page>();
  private queue: number[] = [];
  private inFlight = 0;
  private clock = 0;
  private readonly maxPages: number;
  private readonly maxInFlight: number;

  constructor(private readonly opts: PagesOptions) {
    this.maxPages = opts.maxPages ?? 48;
    this.maxInFlight = opts.maxInFlight ?? 3;
  }

  get(k: number): ViewLine | undefined {
    const p = this.pages.get(Math.floor(k / PAGE));
    if (p === undefined) return undefined;
    p.used = ++this.clock;
    return p.lines[k % PAGE];
  }

  errorAt(k: number): string | null {
    return this.pages.get(Math.floor(k / PAGE))?.error ?? null;
  }

  /** Loads what rows [from, to] need, given the view has `count` rows; only the latest range is queued. */
  ensure(from: number, to: number, count: number): void {
    const want: number[] = [];
    const last = Math.min(to, count - 1);
    for (let p = Math.floor(from / PAGE); p * PAGE <= last; p++) {
      const page = this.pages.get(p);
      const needs = Math.min(PAGE, count - p * PAGE); // rows this page should hold now
      if (page === undefined || (!page.loading && page.error === null && page.lines.length < needs))
        want.push(p);
      else page.used = ++this.clock;
    }
    this.queue = want;
    this.pump();
  }

  /**
   * Rows `k`… read before they were asked for (the first window of a page, fetched beside the job): pages
   * they fill from their start are kept; a piece that starts inside a page is left to be fetched.
   */
  seed(k: number, lines: ViewLine[]): void {
    for (let p = Math.ceil(k / PAGE); p * PAGE - k < lines.length; p++) {
      if (this.pages.get(p)?.loading) continue;
      const part = lines.slice(p * PAGE - k, p * PAGE - k + PAGE);
      this.pages.set(p, { lines: part, loading: false, error: null, used: ++this.clock });
    }
    this.evict();
  }

  /** A line from the live stream, row `k`: kept when it continues a loaded page (the tail of the log). */
  append(k: number, line: ViewLine): void {
    const p = Math.floor(k / PAGE);
    let page = this.pages.get(p);
    if (page === undefined && k % PAGE === 0 && this.pages.has(p - 1)) {
      const prev = this.pages.get(p - 1)!;
      if (!prev.loading && prev.lines.length === PAGE) {
        page = { lines: [], loading: false, error: null, used: ++this.clock };
        this.pages.set(p, page);
      }
    }
    if (page !== undefined && !page.loading && page.lines.length === k % PAGE) page.lines.push(line);
    if (this.pages.size > this.maxPages) this.evict();
  }

  clear(): void {
    this.pages.clear();
    this.queue = [];
  }

  get size(): number {
    return this.pages.size;
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const p = this.queue.shift()!;
      const existing = this.pages.get(p);
      if (existing?.loading) continue;
      const have = existing?.lines ?? [];
      const page: Page = { lines: have, loading: true, error: null, used: ++this.clock };
      this.pages.set(p, page);
      this.inFlight++;
      const start = p * PAGE + have.length;
      this.opts
        .load(start, PAGE - have.length)
        .then(
          (lines) => {
            page.lines = have.concat(lines);
            page.loading = false;
          },
          (e: unknown) => {
            page.loading = false;
            page.error = (e as Error).message;
            // A failed page is asked again after a pause, not in a loop.
            setTimeout(() => {
              if (this.pages.get(p) === page) this.pages.delete(p);
              this.opts.changed();
            }, 2000);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.evict();
          this.opts.changed();
          this.pump();
        });
    }
  }

  /** Drops least recently used pages down to a quarter below the limit (so this runs now and then, not per line). */
  private evict(): void {
    if (this.pages.size <= this.maxPages) return;
    const keep = Math.floor(this.maxPages * 0.75);
    const idle = [...this.pages.entries()]
      .filter(([, pg]) => !pg.loading)
      .sort((a, b) => a[1].used - b[1].used);
    for (const [p] of idle.slice(0, this.pages.size - keep)) this.pages.delete(p);
  }
}
