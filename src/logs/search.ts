// Search across a whole log, in pages: the numbers of the lines that match, a cursor, bounded time per page.

import { makeMatcher } from "../core/line.ts";
import type { Stream } from "../protocol/line.ts";
import { breather, countNewlines, type LineBlock, openRaw, type RawDeps, type RawLog } from "./blocks.ts";
import type { RegexPool } from "./regex-pool.ts";
import { lineText } from "./text.ts";

export interface SearchSpec {
  /** A substring of the line's text (case-sensitive). */
  text?: string | undefined;
  /** A regular expression tested against the line's text. */
  regex?: { source: string; flags: string } | undefined;
  step?: string | undefined;
  stream?: Stream | undefined;
}

export interface SearchPage {
  source: RawLog["source"];
  /** Numbers of the matching lines, ascending, all at or after `from`. */
  matches: number[];
  from: number;
  /** Where the next page starts: one past the last line examined. */
  next: number;
  /** True when the scan reached the end of the log (as it was when the page was read). */
  done: boolean;
}

export interface SearchDeps extends RawDeps {
  checkpoint: (id: string, line: number) => Promise<{ line: number; offset: number }>;
  regex: RegexPool;
  clock?: () => number;
}

export type Search = ReturnType<typeof createSearch>;

export function createSearch(deps: SearchDeps) {
  const clock = deps.clock ?? (() => performance.now());

  /**
   * One page of matches from line `from`: stops after `limit` matches, or at the first block boundary past
   * `budgetMs`. Null when no tier holds the log.
   */
  async function search(
    id: string,
    spec: SearchSpec,
    page: { from: number; limit: number; budgetMs: number },
  ): Promise<SearchPage | null> {
    const raw = await openRaw(deps, id);
    if (raw === null) return null;
    const started = clock();
    const out: SearchPage = {
      source: raw.source,
      matches: [],
      from: page.from,
      next: page.from,
      done: false,
    };
    if (raw.lines !== null && page.from >= raw.lines) return { ...out, next: page.from, done: true };
    const legacy = raw.source === "legacy";
    const over = () => clock() - started >= page.budgetMs;
    const full = () => out.matches.length >= page.limit;
    const start = raw.indexed ? await deps.checkpoint(id, page.from) : { line: 0, offset: 0 };
    const lines = raw.indexed ? locator(raw, id, start) : null;
    // Lines counted from the start of the read (every tier that cannot seek, and the regex path).
    let line = start.line;
    const blocks = raw.blocks(start.offset);
    const pause = breather();
    try {
      if (spec.regex !== undefined) {
        for await (const b of blocks) {
          const bytes = new Uint8Array(b.buf.subarray(0, b.end)); // a copy, handed over to the worker
          const r = await deps.regex.run({
            source: spec.regex.source,
            flags: spec.regex.flags,
            step: spec.step,
            stream: spec.stream,
            legacy,
            bytes,
          });
          for (const i of r.hits) {
            if (line + i < page.from) continue;
            out.matches.push(line + i);
            if (full()) return { ...out, next: line + i + 1 };
          }
          line += r.lines;
          // A page ends past its budget, but not before it has passed `from`: every page makes progress.
          if (over() && line > page.from)
            return { ...out, next: line, done: raw.lines !== null && line >= raw.lines };
          await pause();
        }
        return { ...out, next: Math.max(line, page.from), done: true };
      }
      const needle = needleOf(spec, legacy);
      const match = matcherOf(spec, legacy);
      for await (const b of blocks) {
        let counted = 0; // bytes of this block whose newlines are in `line` (the count mode)
        let pos = 0;
        for (let h = needle === null ? -1 : b.buf.indexOf(needle, 0); h !== -1 && h < b.end; ) {
          const s = h === 0 ? 0 : b.buf.lastIndexOf(10, h - 1) + 1;
          let e = b.buf.indexOf(10, h);
          if (e === -1 || e >= b.end) e = b.end;
          if (match(b.buf.toString("utf8", s, e))) {
            let num: number;
            if (lines !== null) num = await lines.at(b, s);
            else {
              line += countNewlines(b.buf, counted, s);
              counted = s;
              num = line;
            }
            if (num >= page.from) {
              out.matches.push(num);
              if (full()) return { ...out, next: num + 1 };
            }
          }
          pos = e + 1;
          h = pos >= b.end ? -1 : b.buf.indexOf(needle!, pos);
        }
        if (lines === null) {
          line += countNewlines(b.buf, counted, b.end);
          // The log's last line may lack its newline; it is a line all the same.
          if (b.end > 0 && b.buf[b.end - 1] !== 10) line++;
        }
        if (over()) {
          const at = lines !== null ? await lines.at(b, b.end) : line;
          if (at > page.from) return { ...out, next: at, done: raw.lines !== null && at >= raw.lines };
        }
        await pause();
      }
      const end = lines !== null ? raw.lines! : line;
      return { ...out, next: Math.max(end, page.from), done: true };
    } finally {
      await blocks.return(undefined);
    }
  }

  /** Line numbers of byte positions in an indexed log: the nearest checkpoint, then newlines counted from it. */
  function locator(raw: RawLog, id: string, first: { line: number; offset: number }) {
    let known = first; // a line start whose number is known; hits arrive in ascending order
    const total = raw.lines!;
    /** The last checkpoint at or before byte `offset`: checkpoints ascend in line and offset alike. */
    const checkpointAt = async (offset: number) => {
      let lo = 0;
      let hi = total;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if ((await deps.checkpoint(id, mid)).offset <= offset) lo = mid;
        else hi = mid - 1;
      }
      return deps.checkpoint(id, lo);
    };
    return {
      /** The number of the line starting at `b.buf[s]`. */
      async at(b: LineBlock, s: number): Promise<number> {
        const abs = b.offset + s;
        if (known.offset < b.offset) {
          const cp = await checkpointAt(abs);
          if (cp.offset > known.offset) known = cp;
        }
        const n =
          known.offset >= b.offset
            ? countNewlines(b.buf, known.offset - b.offset, s)
            : countNewlines(raw.bytes(known.offset, b.offset), 0, b.offset - known.offset) +
              countNewlines(b.buf, 0, s);
        known = { line: known.line + n, offset: abs };
        return known.line;
      },
    };
  }

  return { search };
}

/** Bytes every matching line holds in its stored form, found with a native search before any decoding. */
function needleOf(spec: SearchSpec, legacy: boolean): Buffer | null {
  if (legacy)
    return spec.text !== undefined && spec.step === undefined && spec.stream === undefined
      ? Buffer.from(spec.text)
      : null;
  // JSON escapes character by character, so a text inside `line` appears escaped the same way in the file.
  if (spec.text !== undefined) return Buffer.from(JSON.stringify(spec.text).slice(1, -1));
  if (spec.step !== undefined) return Buffer.from(`"step":${JSON.stringify(spec.step)}`);
  if (spec.stream !== undefined) return Buffer.from(`"stream":"${spec.stream}"`);
  return null;
}

/** The full test of a candidate line (the needle can also hit another field, or an escape). */
function matcherOf(spec: SearchSpec, legacy: boolean): (raw: string) => boolean {
  const text = spec.text;
  if (legacy) return (raw) => text !== undefined && raw.includes(text);
  const filter = makeMatcher({ step: spec.step, stream: spec.stream });
  return (raw) => {
    if (filter !== null && !filter(raw)) return false;
    if (text === undefined) return true;
    const t = lineText(raw);
    return t?.includes(text) === true;
  };
}
