// Splitting a byte stream into log lines as it arrives: UTF-8 decoding, line ends, long-line chunks, masking — pure.
import { type Masker, NO_MASK } from "../core/mask.ts";

/**
 * Line ends are `\n`, `\r\n` and a bare `\r`. A carriage-return progress bar (`10%\r20%\r…`) thus
 * becomes one line per update: every update is visible live and nothing is lost, at the price of more
 * lines. Invalid UTF-8 becomes U+FFFD (the streaming decoder keeps a character cut across two reads
 * whole). A line longer than `maxLineBytes` of UTF-8 is cut into consecutive lines of at most that
 * size, never inside a character, so the server never has to truncate it and no byte is lost.
 *
 * With a masker, every line is masked before it is cut, so a cut never splits a secret: a line that is
 * complete is masked whole; an unfinished line cut because it grew too long, or sent on its own because it
 * stayed unfinished, keeps back what could be the start of a secret until the text after it decides. An
 * unfinished line that stays unfinished a second time (no output in between) is sent whole, so a prompt is
 * never held back for good; a secret whose printing pauses that long in its middle is the one case cut.
 */
export interface LineSplitter {
  /** Lines completed by this chunk; an unfinished tail is kept (or cut off once it is too long). */
  push(chunk: Uint8Array): string[];
  /** The unfinished tail as a line of its own (a command that prints no newline for a while). */
  flushPartial(): string[];
  /** End of stream: whatever is left, as a line. */
  end(): string[];
  /** Whether an unfinished line is held. */
  readonly hasPartial: boolean;
}

const LINE_END = /\r\n|\r|\n/;
const encoder = new TextEncoder();

export function createLineSplitter(maxLineBytes: number, masker: Masker = NO_MASK): LineSplitter {
  if (maxLineBytes < 4) throw new RangeError(`maxLineBytes must be at least 4 (got ${maxLineBytes})`);
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let partial = "";
  // A chunk that ended in `\r` already ended the line; a `\n` opening the next chunk belongs to it.
  let skipLf = false;
  // After an unfinished line was flushed on its own, the line end that finally comes closes it: no empty line.
  let flushedOpen = false;
  // A flush kept back the possible start of a secret; nothing arrived since.
  let heldBack = false;

  function take(text: string, out: string[]): void {
    if (text.length > 0) heldBack = false;
    if (skipLf && text.length > 0) {
      if (text.charCodeAt(0) === 10) text = text.slice(1);
      skipLf = false;
    }
    if (text.length === 0) return;
    const parts = text.split(LINE_END);
    const last = parts.length - 1;
    const closesFlushed = flushedOpen && partial.length === 0 && parts[0] === "";
    flushedOpen = false;
    if (last === 0) {
      partial += parts[0]!;
    } else {
      for (let i = 0; i <= last; i++) {
        const piece = i === 0 ? partial + parts[0]! : parts[i]!;
        if (i === 0 && closesFlushed) continue;
        if (i < last) chunkInto(masker.mask(piece), maxLineBytes, out);
        else partial = piece;
      }
      if (text.charCodeAt(text.length - 1) === 13) skipLf = true;
    }
    // Cheap guard first: a UTF-16 unit is at most 3 UTF-8 bytes.
    if (partial.length * 3 > maxLineBytes && utf8Length(partial) > maxLineBytes) {
      // Cut where no secret can be split; the text from the cut on is kept as it is (not yet masked).
      const cut = masker.safeCut(partial);
      const pieces = splitUtf8(masker.mask(partial.slice(0, cut)), maxLineBytes);
      partial = pieces.pop()! + partial.slice(cut);
      out.push(...pieces);
    }
  }

  return {
    push(chunk) {
      const out: string[] = [];
      take(decoder.decode(chunk, { stream: true }), out);
      return out;
    },
    flushPartial() {
      if (partial.length === 0) return [];
      const out: string[] = [];
      const cut = heldBack ? partial.length : masker.safeCut(partial);
      if (cut > 0) chunkInto(masker.mask(partial.slice(0, cut)), maxLineBytes, out);
      partial = partial.slice(cut);
      heldBack = partial.length > 0;
      flushedOpen = true;
      return out;
    },
    end() {
      const out: string[] = [];
      take(decoder.decode(), out);
      if (partial.length > 0) chunkInto(masker.mask(partial), maxLineBytes, out);
      partial = "";
      return out;
    },
    get hasPartial() {
      return partial.length > 0;
    },
  };
}

function chunkInto(line: string, max: number, out: string[]): void {
  if (line.length * 3 <= max || utf8Length(line) <= max) out.push(line);
  else out.push(...splitUtf8(line, max));
}

const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8");

/** Cuts `text` into pieces of at most `max` UTF-8 bytes, never inside a character; the last may be short. */
export function splitUtf8(text: string, max: number): string[] {
  const bytes = encoder.encode(text);
  const pieces: string[] = [];
  const decoder = new TextDecoder();
  let start = 0;
  while (bytes.length - start > max) {
    let cut = start + max;
    while (cut > start && (bytes[cut]! & 0xc0) === 0x80) cut--; // back off a continuation byte
    pieces.push(decoder.decode(bytes.subarray(start, cut)));
    start = cut;
  }
  pieces.push(decoder.decode(bytes.subarray(start)));
  return pieces;
}
