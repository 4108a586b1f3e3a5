// What the log pane shows: the whole job's log, or one step's lines — rows ↔ line numbers and how rows load.
import { enc, readLines, searchPage } from "./api.ts";
import { toViewLine, type ViewLine } from "./logline.ts";
import { Pages } from "./pages.ts";
import type { StepIndex } from "./stepindex.ts";

export interface View {
  step: string | null;
  count(): number;
  /** The line shown in row `k` (null while unknown). */
  lineOf(k: number): number | null;
  /** The row that shows line `n`, or the first row after it (null while unknown). */
  rowAtOrAfter(n: number): number | null;
  pages: Pages;
  /** Places the rows up to line `n` (a step view searches for them); rowAtOrAfter(n) answers afterwards. */
  locate(n: number): Promise<void>;
  /** A line from the live stream (for a step view: of that step, already in its index). */
  live(line: ViewLine): void;
}

/** The whole log: row k is line k. */
export function wholeView(jobId: string, total: () => number, changed: () => void): View {
  const pages = new Pages({
    async load(k, n) {
      const r = await readLines(`/api/jobs/${enc(jobId)}/logs?from=${k}&limit=${n}`);
      return r.lines.map((raw, i) => toViewLine(k + i, raw));
    },
    changed,
  });
  return {
    step: null,
    count: total,
    lineOf: (k) => k,
    rowAtOrAfter: (n) => n,
    locate: async () => {},
    pages,
    live: (line) => pages.append(line.n, line),
  };
}

/** One step: rows through its index; rows whose lines the index does not know yet are found by search. */
export function stepView(jobId: string, index: StepIndex, changed: () => void): View {
  let extending: Promise<void> | null = null;
  /** One search page over the step from where its index stops (a step whose runs the summary cut short). */
  function extend(): Promise<void> {
    const q = new URLSearchParams({ step: index.step, from: String(index.searchFrom), limit: "10000" });
    extending ??= searchPage(jobId, q)
      .then((p) => index.extend(p.matches, p.done ? Number.POSITIVE_INFINITY : p.next))
      .finally(() => {
        extending = null;
      });
    return extending;
  }
  /** Until row `k` is known. */
  async function known(k: number): Promise<void> {
    while (!index.knownRows(k) && !index.complete) await extend();
  }
  const pages = new Pages({
    async load(k, n) {
      const last = Math.min(k + n, index.count) - 1;
      await known(last);
      const first = index.lineOf(k);
      if (first === null) return [];
      const r = await readLines(
        `/api/jobs/${enc(jobId)}/steps/${enc(index.step)}/logs?from=${first}&limit=${last - k + 1}`,
      );
      return r.lines.map((raw, i) => toViewLine(index.lineOf(k + i) ?? -1, raw));
    },
    changed,
  });
  return {
    step: index.step,
    count: () => index.count,
    lineOf: (k) => index.lineOf(k),
    rowAtOrAfter: (n) => index.rowAtOrAfter(n),
    async locate(n) {
      while (index.rowAtOrAfter(n) === null && !index.complete) await extend();
    },
    pages,
    live(line) {
      // The page has already put the line in the index.
      const k = index.rowOf(line.n);
      if (k !== null) pages.append(k, line);
    },
  };
}
