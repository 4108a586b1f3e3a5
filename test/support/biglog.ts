// Test support: writes a large JSONL log straight to disk (fast), for tests whose subject is not ingest.
import { closeSync, openSync, writeSync } from "node:fs";

/**
 * Writes about `bytes` of JSONL lines to `path`: line i is `line-i` padded to ~110 bytes; every
 * `stepEvery`-th line belongs to step "rare", the rest to "build". Returns the line count and size.
 */
export function writeBigLog(
  path: string,
  bytes: number,
  stepEvery = 100,
): { lines: number; size: number; rare: number } {
  const head = (step: string) =>
    Buffer.from(`{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"${step}","line":"line-`);
  const build = head("build");
  const rareHead = head("rare");
  const tail = Buffer.from(` ${"x".repeat(40)}"}\n`);
  const perChunk = 65_536;
  // Built in bytes, not strings: the suite writes gigabytes of these, 2-3x faster this way.
  const chunk = Buffer.allocUnsafe(perChunk * (rareHead.length + 20 + tail.length));
  const fd = openSync(path, "w");
  let lines = 0;
  let size = 0;
  let rare = 0;
  try {
    while (size < bytes) {
      let o = 0;
      for (let i = 0; i < perChunk; i++, lines++) {
        const isRare = lines % stepEvery === 0;
        if (isRare) rare++;
        const h = isRare ? rareHead : build;
        chunk.set(h, o);
        o = writeDigits(chunk, o + h.length, lines);
        chunk.set(tail, o);
        o += tail.length;
      }
      writeSync(fd, chunk.subarray(0, o));
      size += o;
    }
  } finally {
    closeSync(fd);
  }
  return { lines, size, rare };
}

const digits = new Uint8Array(20);

/** Writes the decimal digits of `n` (a non-negative integer) into `buf` at `at`; returns the end. */
export function writeDigits(buf: Uint8Array, at: number, n: number, width = 1): number {
  let d = 0;
  do {
    digits[d++] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0 || d < width);
  while (d > 0) buf[at++] = digits[--d]!;
  return at;
}

/** Reads a response body to the end, counting bytes and newlines without holding it. */
export async function drainCount(res: Response): Promise<{ bytes: number; lines: number; last: string }> {
  let bytes = 0;
  let lines = 0;
  let tail = new Uint8Array(0);
  for await (const chunk of res.body!) {
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    tail = chunk;
  }
  const text = new TextDecoder().decode(tail).trimEnd();
  return { bytes, lines, last: text.slice(text.lastIndexOf("\n") + 1) };
}
