// The read filters every read form takes: `since`/`until` (a time window) and `q`/`re`/`icase`, as the search takes them.
import * as v from "valibot";
import type { LineFilter } from "../core/line.ts";
import type { Batch } from "../core/scan.ts";
import { AppError, badRequest } from "../errors.ts";
import type { Selection } from "../logs/read.ts";
import type { RegexPool } from "../logs/regex-pool.ts";
import { escapeRegex } from "../logs/text.ts";
import { normalizeTs, tsKey } from "../protocol/timestamp.ts";

export const Pattern = v.pipe(
  v.string(),
  v.nonEmpty("must not be empty"),
  v.maxLength(1024, (i) => `must be at most 1024 characters (got ${i.input.length})`),
);

export const Flag = v.pipe(
  v.picklist(["true", "false", "1", "0"], (i) => `expected true or false (got ${i.received})`),
  v.transform((s) => s === "true" || s === "1"),
);

/** An instant: any ISO 8601 form a line's `ts` may take, as a key that sorts as the instant does. */
const Instant = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const ts = normalizeTs(dataset.value);
    const key = ts === null ? null : tsKey(ts);
    if (key === null) {
      addIssue({
        message: `expected an ISO 8601 timestamp such as 2025-02-12T10:56:45Z (got ${JSON.stringify(dataset.value.slice(0, 64))})`,
      });
      return NEVER;
    }
    return key;
  }),
);

/** Spread into a read's query schema. */
export const FilterEntries = {
  since: v.optional(Instant),
  until: v.optional(Instant),
  q: v.optional(Pattern),
  re: v.optional(Pattern),
  icase: v.optional(Flag),
};

export interface RegexSpec {
  source: string;
  flags: string;
}

/**
 * The regular expression `q`/`re`/`icase` ask for, as the search makes it: `re` as written, `q` with `icase`
 * as its escaped text; none for a plain `q` (a substring test needs no worker). A 400 for both at once or a
 * pattern that does not compile.
 */
export function regexOf(q: {
  q?: string | undefined;
  re?: string | undefined;
  icase?: boolean | undefined;
}): RegexSpec | undefined {
  if (q.q !== undefined && q.re !== undefined) {
    throw badRequest("q and re cannot be combined: q is a text, re a regular expression", "invalid_query");
  }
  if (q.re === undefined && (q.q === undefined || q.icase !== true)) return undefined;
  const source = q.re ?? escapeRegex(q.q!);
  const flags = q.icase === true ? "i" : "";
  try {
    new RegExp(source, flags);
  } catch (e) {
    throw badRequest(`re: not a valid regular expression: ${(e as Error).message}`, "invalid_query");
  }
  return { source, flags };
}

export interface ReadFilter {
  /** What the read's own line matcher tests (fast, in the server's thread). */
  lines: Pick<LineFilter, "text" | "since" | "until">;
  /** What the regex worker tests, after the matcher (a pattern may backtrack: never in the server's thread). */
  regex: RegexSpec | undefined;
}

export function readFilter(q: v.InferOutput<v.ObjectSchema<typeof FilterEntries, undefined>>): ReadFilter {
  if (q.since !== undefined && q.until !== undefined && q.since >= q.until) {
    throw badRequest(
      "since must be before until: the window [since, until) holds no instant",
      "invalid_query",
    );
  }
  const regex = regexOf(q);
  return {
    lines: { text: regex === undefined ? q.q : undefined, since: q.since, until: q.until },
    regex,
  };
}

/**
 * A selection narrowed by a regular expression run in the regex worker (each batch is one task, bounded in
 * time: a pattern that backtracks for ever is a 422, as in the search). `skip` matching lines are passed over,
 * then `limit` counts them; once it is reached the read beneath is closed and `next` is one past the last line
 * given.
 */
export function regexSelection(
  sel: Selection,
  pool: RegexPool,
  regex: RegexSpec,
  opts: { legacy: boolean; limit?: number | undefined; skip?: number | undefined },
): Selection {
  const encoder = new TextEncoder();
  let left = opts.limit ?? Number.POSITIVE_INFINITY;
  let skip = opts.skip ?? 0;
  let stoppedAt: number | null = null;
  async function* batches(): AsyncGenerator<Batch> {
    if (left <= 0) return;
    const it = sel.batches[Symbol.asyncIterator]();
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        const { nums, texts } = r.value;
        if (texts.length === 0) continue;
        const reply = await pool.run({
          source: regex.source,
          flags: regex.flags,
          legacy: opts.legacy,
          bytes: encoder.encode(`${texts.join("\n")}\n`),
        });
        const out: Batch = { nums: [], texts: [] };
        for (const i of reply.hits) {
          if (skip > 0) {
            skip--;
            continue;
          }
          out.nums.push(nums[i]!);
          out.texts.push(texts[i]!);
          if (--left === 0) {
            stoppedAt = nums[i]! + 1;
            yield out;
            return;
          }
        }
        if (out.nums.length > 0) yield out;
      }
    } finally {
      await it.return?.(undefined);
    }
  }
  return { source: sel.source, batches: batches(), next: () => stoppedAt ?? sel.next() };
}

/** The regex worker; a server built without one (a test's app) says so rather than testing in its own thread. */
export function needPool(pool: RegexPool | undefined): RegexPool {
  if (pool === undefined) {
    throw new AppError(501, "regex_unavailable", "re: regular expressions are not available on this server");
  }
  return pool;
}

/**
 * The last `tail` lines that match a regex, as a log that cannot seek is tailed (logs/read.ts): a first pass
 * counts the matches, a second skips all but the last `tail` of them. Both run when the first batch is
 * pulled (a span the reads mark as work, http/idle.ts). The second pass stops at the last match the first
 * one counted, so a log that grew in between answers the tail it had, and `next` is where the count ended.
 */
export function regexTail(
  first: Selection,
  again: () => Promise<Selection | null>,
  pool: RegexPool,
  regex: RegexSpec,
  opts: { legacy: boolean; tail: number },
): Selection {
  async function* batches(): AsyncGenerator<Batch> {
    let count = 0;
    for await (const b of regexSelection(first, pool, regex, { legacy: opts.legacy }).batches)
      count += b.nums.length;
    const keep = Math.min(opts.tail, count);
    if (keep === 0) return;
    const second = await again();
    if (second === null) return;
    yield* regexSelection(second, pool, regex, { legacy: opts.legacy, skip: count - keep, limit: keep })
      .batches;
  }
  return { source: first.source, batches: batches(), next: () => first.next() };
}
