// Line-level reading of a byte stream: splitting, numbering, filtering and windowing (from/limit/tail).

/** Selected lines of one chunk: their line numbers and their text (without the newline). */
export interface Batch {
  nums: number[];
  texts: string[];
}

/** Splits a byte stream into lines; a last line without a newline is yielded at the end. */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of chunks) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const parts = text.split("\n");
    rest = parts.pop()!;
    if (parts.length > 0) yield parts;
  }
  rest += decoder.decode();
  if (rest.length > 0) yield [rest];
}

/**
 * A copy of `text` that does not share storage with the string it was cut from. (A template or slice
 * still points into the original in JSC; a round trip through bytes does not.) Lossless here: the text
 * was decoded from UTF-8.
 */
export const detach = (text: string): string => Buffer.from(text, "utf8").toString("utf8");

export interface Window {
  /** First line number wanted. */
  from: number;
  /** At most this many selected lines. */
  limit?: number | undefined;
  /** Selected lines to pass over before the first one yielded (a tail's second pass). */
  skip?: number | undefined;
  /** Line number of the first line the stream yields (a checkpoint at or before `from`). */
  startLine: number;
  match: ((text: string) => boolean) | null;
}

/**
 * Forward selection. Yields batches of selected lines; returns `next`, the line number to continue
 * from (one past the last line examined).
 */
export async function* selectForward(
  lines: AsyncIterable<string[]>,
  w: Window,
): AsyncGenerator<Batch, number> {
  let n = w.startLine;
  let left = w.limit ?? Number.POSITIVE_INFINITY;
  let skip = w.skip ?? 0;
  if (left <= 0) return w.from;
  for await (const parts of lines) {
    const batch: Batch = { nums: [], texts: [] };
    for (const text of parts) {
      const num = n++;
      if (num < w.from) continue;
      if (w.match !== null && !w.match(text)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      batch.nums.push(num);
      // A line split from a decoded block is a substring that keeps the whole block alive: when a filter
      // keeps few lines of many blocks (a rare step), hold copies, or a 5 MB answer pins the blocks it
      // came from (814 MB for a step read of a 512 MB log).
      batch.texts.push(w.match === null ? text : detach(text));
      if (--left === 0) {
        yield batch;
        return num + 1;
      }
    }
    if (batch.nums.length > 0) yield batch;
  }
  return Math.max(n, w.from);
}

/** How many lines at or after `from` pass `match`: the first pass of a tail over a log that cannot seek. */
export async function countSelected(lines: AsyncIterable<string[]>, w: Window): Promise<number> {
  let n = w.startLine;
  let count = 0;
  for await (const parts of lines) {
    for (const text of parts) {
      if (n++ >= w.from && (w.match === null || w.match(text))) count++;
    }
  }
  return count;
}
