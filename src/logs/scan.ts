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
const detach = (text: string): string => Buffer.from(text, "utf8").toString("utf8");

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

/**
 * Where the last `tail` matching lines at or after `from` begin, found by reading a local file backwards
 * from `end` in blocks — so a tail of a huge log costs what the tail costs, and holds one block and one
 * line, never the lines themselves. `from` when fewer lines match. `totalLines` numbers the lines.
 */
export async function tailStart(
  path: string,
  end: number,
  totalLines: number,
  tail: number,
  from: number,
  match: ((text: string) => boolean) | null,
): Promise<number> {
  if (tail <= 0) return Math.max(from, totalLines);
  const file = Bun.file(path);
  const decoder = new TextDecoder();
  const block = 256 * 1024;
  let pos = end;
  let carry: Uint8Array = new Uint8Array(0); // bytes of a line cut by the block boundary
  let num = totalLines; // number of the line after the one being examined
  let found = 0;
  const hit = (bytes: Uint8Array): boolean => {
    num--;
    if (num < from) return false;
    if (match === null || match(decoder.decode(bytes))) found++;
    return found < tail;
  };
  while (pos > 0 && num > from) {
    const size = Math.min(block, pos);
    pos -= size;
    const buf = await file.slice(pos, pos + size).bytes();
    let data =
      carry.length > 0 ? Buffer.concat([buf, carry]) : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    // Drop the newline that ends the file's last line.
    if (pos + size === end && data[data.length - 1] === 10) data = data.subarray(0, data.length - 1);
    let stop = data.length;
    for (
      let i = data.lastIndexOf(10, stop - 1);
      i !== -1;
      i = stop > 0 ? data.lastIndexOf(10, stop - 1) : -1
    ) {
      if (!hit(data.subarray(i + 1, stop))) return Math.max(num, from);
      stop = i;
    }
    carry = Uint8Array.prototype.slice.call(data, 0, stop);
    if (pos === 0 && !hit(carry)) return Math.max(num, from);
  }
  return from;
}
