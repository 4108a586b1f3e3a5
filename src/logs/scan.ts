// Line-level reading of a byte stream: splitting, numbering, filtering and windowing (from/limit/tail).
import { closeSync, openSync, readSync } from "node:fs";

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

export interface Window {
  /** First line number wanted. */
  from: number;
  /** At most this many selected lines. */
  limit?: number | undefined;
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
  if (left <= 0) return w.from;
  for await (const parts of lines) {
    const batch: Batch = { nums: [], texts: [] };
    for (const text of parts) {
      const num = n++;
      if (num < w.from) continue;
      if (w.match !== null && !w.match(text)) continue;
      batch.nums.push(num);
      batch.texts.push(text);
      if (--left === 0) {
        yield batch;
        return num + 1;
      }
    }
    if (batch.nums.length > 0) yield batch;
  }
  return Math.max(n, w.from);
}

/** The last `tail` selected lines at or after `from`, found by a forward pass with a ring of `tail` lines. */
export async function selectTailForward(
  lines: AsyncIterable<string[]>,
  w: Window & { tail: number },
): Promise<{ batch: Batch; next: number }> {
  const nums: number[] = [];
  const texts: string[] = [];
  let n = w.startLine;
  for await (const parts of lines) {
    for (const text of parts) {
      const num = n++;
      if (num < w.from) continue;
      if (w.match !== null && !w.match(text)) continue;
      nums.push(num);
      texts.push(text);
      if (nums.length > w.tail) {
        nums.shift();
        texts.shift();
      }
    }
  }
  return { batch: { nums, texts }, next: Math.max(n, w.from) };
}

/**
 * The last `tail` matching lines of a local file, read backwards from `end` in blocks, so a tail of a
 * huge log costs what the tail costs. `totalLines` numbers the lines from the end.
 */
export function selectTailBackward(
  path: string,
  end: number,
  totalLines: number,
  tail: number,
  from: number,
  match: ((text: string) => boolean) | null,
): Batch {
  const nums: number[] = [];
  const texts: string[] = [];
  if (tail <= 0 || end === 0) return { nums, texts };
  const fd = openSync(path, "r");
  const decoder = new TextDecoder();
  const block = 64 * 1024;
  let pos = end;
  let carry: Buffer = Buffer.alloc(0); // bytes of a line cut by the block boundary
  let num = totalLines; // number of the line after the one being examined
  try {
    while (pos > 0 && nums.length < tail && num > from) {
      const size = Math.min(block, pos);
      pos -= size;
      const buf = Buffer.allocUnsafe(size);
      readSync(fd, buf, 0, size, pos);
      let data = carry.length > 0 ? Buffer.concat([buf, carry]) : buf;
      // Drop the newline that ends the file's last line.
      if (pos + size === end && data[data.length - 1] === 10) data = data.subarray(0, data.length - 1);
      let stop = data.length;
      let i = data.lastIndexOf(10, stop - 1);
      while (i !== -1) {
        num--;
        if (num < from) break;
        const text = decoder.decode(data.subarray(i + 1, stop));
        if (match === null || match(text)) {
          nums.push(num);
          texts.push(text);
          if (nums.length === tail) break;
        }
        stop = i;
        i = stop > 0 ? data.lastIndexOf(10, stop - 1) : -1;
      }
      carry = Buffer.from(data.subarray(0, stop));
      if (pos === 0 && nums.length < tail && num > from) {
        num--;
        const text = decoder.decode(carry);
        if (num >= from && (match === null || match(text))) {
          nums.push(num);
          texts.push(text);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  nums.reverse();
  texts.reverse();
  return { nums, texts };
}
