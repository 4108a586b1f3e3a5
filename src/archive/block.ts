// One flush block of a single-member archive: raw deflate ending in a full flush, its CRC, lines and steps.
import { constants, deflateRawSync } from "node:zlib";

export interface BlockJob {
  /** The block's bytes (the log's bytes [u, u + length)). */
  bytes: Uint8Array;
  /** Deflate level 1-9. */
  level: number;
  /** Record the step names the block's lines name (for step reads that skip blocks). */
  steps: boolean;
}

export interface BlockResult {
  /** Raw deflate of the block, ending byte-aligned in a full flush (`00 00 ff ff`), no final block. */
  deflated: Uint8Array;
  crc32: number;
  /** Newlines in the block. */
  newlines: number;
  /**
   * Every step name that follows a `"step":"` in the block, in first-seen order; null when not recorded or
   * when a name runs past the block's end (the block may then hold any step).
   */
  steps: string[] | null;
  /** The names in the bytes after the block's last newline (all of them when it has none): the line that
   * continues into the next block, when the block ends inside one. */
  tailSteps: string[] | null;
}

/**
 * A full flush ends the block on a byte boundary and resets the dictionary, so the block inflates on its
 * own (RFC 1951 §3.2.4: a stored empty block) and blocks concatenate into one deflate stream. memLevel 9:
 * a larger hash table, ~5-10% faster here at the same size.
 */
export function compressBlock(job: BlockJob): BlockResult {
  const { bytes } = job;
  const deflated = deflateRawSync(bytes, {
    level: job.level,
    memLevel: 9,
    finishFlush: constants.Z_FULL_FLUSH,
  });
  const lines = scanLines(bytes, job.steps);
  return { deflated, crc32: Bun.hash.crc32(bytes), ...lines };
}

const NEEDLE = Buffer.from('"step":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Counts newlines and collects the step names: for each line, the value after each `"step":"` in it. A read
 * of step S keeps a line only if it contains `"step":` + JSON(S) and parses with step S (`makeMatcher`),
 * so the block's set holds S whenever the block has such a line; a stray name only costs a block read.
 * Consecutive lines nearly always name the same step at the same offset: one byte comparison settles
 * those (a search per line ran at ~120 MB/s, slower than deflate itself).
 */
export function scanLines(
  bytes: Uint8Array,
  steps: boolean,
): Pick<BlockResult, "newlines" | "steps" | "tailSteps"> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const all = steps ? new Set<string>() : null;
  let tail: Set<string> | null = null;
  let unknown = false;
  let newlines = 0;
  // The previous line's `"step":"name"`: its offset from its line's start, and where it is in `buf`.
  let keyOff = -1;
  let keyStart = 0;
  let keyEnd = 0;
  let name = "";
  for (let s = 0; s < buf.length; ) {
    const nl = buf.indexOf(10, s);
    const e = nl === -1 ? buf.length : nl;
    if (all !== null && !unknown) {
      if (nl === -1) tail = new Set();
      const lineSteps = tail;
      const at = s + keyOff;
      if (keyOff >= 0 && at + keyEnd - keyStart <= e && same(buf, keyStart, keyEnd, at)) {
        lineSteps?.add(name);
      } else {
        const line = buf.subarray(s, e);
        for (let k = line.indexOf(NEEDLE); k !== -1; k = line.indexOf(NEEDLE, k + 1)) {
          const found = stepName(line, k + NEEDLE.length - 1);
          if (found === null) {
            // The name runs past the block's end (or is not JSON): the block may hold any step.
            unknown = true;
            break;
          }
          name = found.name;
          keyOff = k;
          keyStart = s + k;
          keyEnd = s + found.end + 1;
          all.add(name);
          lineSteps?.add(name);
        }
      }
    }
    if (nl === -1) break;
    newlines++;
    s = nl + 1;
  }
  if (all === null || unknown) return { newlines, steps: null, tailSteps: null };
  return { newlines, steps: [...all], tailSteps: [...(tail ?? [])] };
}

/** bytes [a, aEnd) equal the bytes at b. A loop: a native compare call costs more than these ~16 bytes. */
function same(buf: Uint8Array, a: number, aEnd: number, b: number): boolean {
  for (let i = a; i < aEnd; i++, b++) if (buf[i] !== buf[b]) return false;
  return true;
}

/** The JSON string starting at the quote `start`, and the index of its closing quote; null when cut short. */
function stepName(buf: Buffer, start: number): { name: string; end: number } | null {
  let end = buf.indexOf(QUOTE, start + 1);
  while (end !== -1 && isEscaped(buf, end)) end = buf.indexOf(QUOTE, end + 1);
  if (end === -1) return null;
  const bs = buf.indexOf(BACKSLASH, start);
  if (bs === -1 || bs > end) return { name: buf.toString("utf8", start + 1, end), end };
  try {
    return { name: JSON.parse(buf.toString("utf8", start, end + 1)) as string, end };
  } catch {
    return null;
  }
}

function isEscaped(buf: Uint8Array, quote: number): boolean {
  let n = 0;
  for (let i = quote - 1; buf[i] === BACKSLASH; i--) n++;
  return n % 2 === 1;
}
