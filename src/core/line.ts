// The JSONL line: encoding of pushed batches and server events, truncation, parsing, filters — pure functions
// on the ingest hot path. Every write path encodes its lines here (the place a masking pass joins them).
import { type LogLine, SERVER_STEP, type Stream } from "../protocol/line.ts";

/** A line as the route hands it over: `ts` already normalised, or absent for "now". */
export interface IncomingLine {
  ts?: string | undefined;
  stream: Stream;
  line: string;
}

/**
 * One JSONL line, keys in the contract's order, compact, newline-terminated. `stepJson` is the step
 * name already JSON-encoded, so a batch encodes it once.
 */
export function encodeLine(ts: string, stream: Stream, stepJson: string, line: string): string {
  return `{"ts":"${ts}","stream":"${stream}","step":${stepJson},"line":${JSON.stringify(line)}}\n`;
}

/** Replaces registered secrets in a line's text (core/mask.ts); the identity when a job has none. */
export type MaskText = (text: string) => string;

/**
 * A worker's batch as stored: one JSONL line per incoming line, `now` for a line without a timestamp, a line
 * over `maxLineBytes` cut with a marker. `truncated` counts the lines cut. `mask` runs before the cut, so the
 * cut never leaves the start of a secret behind.
 */
export function encodeBatch(
  lines: readonly IncomingLine[],
  step: string,
  now: string,
  maxLineBytes: number,
  mask?: MaskText | null,
): { text: string; truncated: number } {
  const stepJson = JSON.stringify(step);
  let text = "";
  let truncated = 0;
  for (const l of lines) {
    let line = mask ? mask(l.line) : l.line;
    if (line.length * 3 > maxLineBytes) {
      const t = truncateLine(line, maxLineBytes);
      if (t.truncated) truncated++;
      line = t.line;
    }
    text += encodeLine(l.ts ?? now, l.stream, stepJson, line);
  }
  return { text, truncated };
}

/** A server event: `step: "_server"`, `stream: "stderr"`, one line per line of `message` (masked whole first). */
export function encodeEvent(
  message: string,
  ts: string,
  maxLineBytes: number,
  mask?: MaskText | null,
): { text: string; count: number } {
  const stepJson = JSON.stringify(SERVER_STEP);
  const lines = (mask ? mask(message) : message).split(/\r?\n/);
  const text = lines
    .map((m) => encodeLine(ts, "stderr", stepJson, truncateLine(m, maxLineBytes).line))
    .join("");
  return { text, count: lines.length };
}

const encoder = new TextEncoder();

/**
 * Cuts `line` to at most `maxBytes` of UTF-8 (never inside a character) and appends a visible marker.
 * Returns the line unchanged when it fits.
 */
export function truncateLine(line: string, maxBytes: number): { line: string; truncated: boolean } {
  // Fast path: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (line.length * 3 <= maxBytes) return { line, truncated: false };
  const bytes = encoder.encode(line);
  if (bytes.length <= maxBytes) return { line, truncated: false };
  let cut = maxBytes;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--; // back off a continuation byte
  const kept = new TextDecoder().decode(bytes.subarray(0, cut));
  return { line: `${kept}…[truncated ${bytes.length - cut} bytes]`, truncated: true };
}

/** Parses one stored line; null for anything that is not a log-line object (a legacy text line, garbage). */
export function parseLine(text: string): LogLine | null {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null) return null;
    const o = v as Record<string, unknown>;
    if (typeof o.step !== "string" || typeof o.line !== "string") return null;
    return o as unknown as LogLine;
  } catch {
    return null;
  }
}

/** A line filter for reads: step name exact, stream exact; either may be absent. */
export interface LineFilter {
  step?: string | undefined;
  stream?: Stream | undefined;
}

/**
 * Whether a stored line passes the filter. A cheap substring pre-check rejects most lines without
 * parsing; a candidate is confirmed by parsing, so `build` never matches `build-notify` and a `line`
 * that merely contains `"step":"build"` never matches either.
 */
export function makeMatcher(filter: LineFilter): ((text: string) => boolean) | null {
  const { step, stream } = filter;
  if (step === undefined && stream === undefined) return null;
  const stepNeedle = step === undefined ? null : `"step":${JSON.stringify(step)}`;
  const streamNeedle = stream === undefined ? null : `"stream":"${stream}"`;
  return (text) => {
    if (stepNeedle !== null && !text.includes(stepNeedle)) return false;
    if (streamNeedle !== null && !text.includes(streamNeedle)) return false;
    const parsed = parseLine(text);
    if (parsed === null) return false;
    return (step === undefined || parsed.step === step) && (stream === undefined || parsed.stream === stream);
  };
}

/**
 * Stored JSONL lines (a run, newline-terminated) with `mask` applied to each `line`; the same string when
 * nothing matched. For lines held before a secret was registered and written to the log later (the size-cap
 * window): a line that does not parse is left as it is.
 */
export function maskStored(text: string, mask: MaskText): string {
  let out = "";
  let changed = false;
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end === -1) end = text.length;
    const raw = text.slice(at, end);
    const parsed = parseLine(raw);
    const line = parsed === null ? raw : mask(parsed.line);
    if (parsed !== null && line !== parsed.line) {
      changed = true;
      out += encodeLine(parsed.ts, parsed.stream, JSON.stringify(parsed.step), line).slice(0, -1);
    } else out += raw;
    if (end < text.length) out += "\n";
    at = end + 1;
  }
  return changed ? out : text;
}
