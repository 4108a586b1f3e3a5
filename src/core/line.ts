// The JSONL line: encoding of pushed batches and server events, truncation, parsing, filters — pure functions
// on the ingest hot path. Every write path encodes its lines here (the place a masking pass joins them).
import { type LogLine, SERVER_STEP, type Stream } from "../protocol/line.ts";
import { tsKey } from "../protocol/timestamp.ts";

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

/**
 * A batch as the registry stores it: its JSONL bytes, how many lines, how many were cut to the line limit, and
 * the bytes of the lines' texts as they were sent (for the metrics).
 */
export interface EncodedBatch {
  data: Uint8Array;
  count: number;
  truncated: number;
  lineBytes: number;
  /** `data` as text, when the encoder had it (else decoded only for a live viewer). */
  text?: string;
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

/** A line filter for reads: step name exact, stream exact, a text, a time window; any may be absent. */
export interface LineFilter {
  step?: string | undefined;
  stream?: Stream | undefined;
  /** A substring of the line's text (its `line`), case-sensitive: the viewer search's `q`. */
  text?: string | undefined;
  /** Lines at or after this instant, and before `until`: keys made by `tsKey` (protocol/timestamp.ts). */
  since?: string | undefined;
  until?: string | undefined;
}

const TS_PREFIX = '{"ts":"';

/** The `ts` of a stored line: cut from the contract's key order, else parsed. */
function tsOf(text: string, parsed: LogLine | null): string | null {
  if (text.startsWith(TS_PREFIX)) {
    const end = text.indexOf('"', TS_PREFIX.length);
    if (end !== -1) return text.slice(TS_PREFIX.length, end);
  }
  return typeof parsed?.ts === "string" ? parsed.ts : null;
}

/**
 * Whether a stored line passes the filter. A cheap substring pre-check rejects most lines without
 * parsing; a candidate is confirmed by parsing, so `build` never matches `build-notify` and a `line`
 * that merely contains `"step":"build"` never matches either. A text is looked for as JSON escapes it (as
 * the search does), then in the parsed `line`.
 */
/**
 * Text every line `makeMatcher(filter)` keeps contains, as stored (the step's, else the stream's, else the
 * text's JSON form); null without a filter. Readers look for it in the bytes before decoding a line.
 */
export function requiredNeedle(filter: LineFilter): string | null {
  if (filter.step !== undefined) return `"step":${JSON.stringify(filter.step)}`;
  if (filter.stream !== undefined) return `"stream":"${filter.stream}"`;
  // U+FFFD is also what invalid bytes decode to: such a needle is not in the bytes of every line it is in.
  if (filter.text !== undefined && filter.text !== "" && !filter.text.includes("\uFFFD"))
    return JSON.stringify(filter.text).slice(1, -1);
  return null;
}

export function makeMatcher(filter: LineFilter): ((text: string) => boolean) | null {
  const { step, stream, text: want, since, until } = filter;
  if (
    step === undefined &&
    stream === undefined &&
    want === undefined &&
    since === undefined &&
    until === undefined
  )
    return null;
  const stepNeedle = step === undefined ? null : `"step":${JSON.stringify(step)}`;
  const streamNeedle = stream === undefined ? null : `"stream":"${stream}"`;
  const textNeedle = want === undefined ? null : JSON.stringify(want).slice(1, -1);
  return (text) => {
    if (stepNeedle !== null && !text.includes(stepNeedle)) return false;
    if (streamNeedle !== null && !text.includes(streamNeedle)) return false;
    if (textNeedle !== null && !text.includes(textNeedle)) return false;
    const parsed = parseLine(text);
    if (parsed === null) return false;
    if (step !== undefined && parsed.step !== step) return false;
    if (stream !== undefined && parsed.stream !== stream) return false;
    if (want !== undefined && !parsed.line.includes(want)) return false;
    if (since !== undefined || until !== undefined) {
      const ts = tsOf(text, parsed);
      const key = ts === null ? null : tsKey(ts);
      if (key === null) return false;
      if (since !== undefined && key < since) return false;
      if (until !== undefined && key >= until) return false;
    }
    return true;
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

/**
 * The filter over plain-text lines (a legacy `.log`): a text is looked for in the raw line, as the search does;
 * a line has no step, stream or time, so any of those keeps none.
 */
export function makeTextMatcher(filter: LineFilter): ((text: string) => boolean) | null {
  if (makeMatcher(filter) === null) return null;
  const { step, stream, text: want, since, until } = filter;
  if (step !== undefined || stream !== undefined || since !== undefined || until !== undefined)
    return () => false;
  return (text) => text.includes(want!);
}
