// A batch on the wire: spooled records become the push body without re-encoding; retry delays — pure.
import { backoff, jitter } from "../core/backoff.ts";
import type { Stream } from "../protocol/line.ts";

const encoder = new TextEncoder();
const SUFFIX = encoder.encode("]}");
const NEWLINE = 10;
const COMMA = 44;

/** One spooled record: the push body's line object, keys in the server's order, on one text line. */
export function encodeRecord(ts: string, stream: Stream, line: string): string {
  return `{"ts":"${ts}","stream":"${stream}","line":${JSON.stringify(line)}}`;
}

/** The body's opening for a step: `{"step_name":"…","lines":[`. */
export function bodyPrefix(step: string): Uint8Array {
  return encoder.encode(`{"step_name":${JSON.stringify(step)},"lines":[`);
}

/** Bytes a body adds around its records (the records' own newlines become commas: same size). */
export const envelopeBytes = (prefix: Uint8Array): number => prefix.length + SUFFIX.length - 1;

/**
 * `records` is newline-terminated JSON objects as spooled; a JSON-encoded record never holds a raw
 * newline byte, so every newline is a separator and turns into a comma.
 */
export function buildBody(prefix: Uint8Array, records: Uint8Array): Uint8Array {
  const size = records.length - 1;
  const body = new Uint8Array(prefix.length + size + SUFFIX.length);
  body.set(prefix, 0);
  body.set(records.subarray(0, size), prefix.length);
  const from = prefix.length;
  const to = from + size;
  for (let i = body.indexOf(NEWLINE, from); i !== -1 && i < to; i = body.indexOf(NEWLINE, i + 1))
    body[i] = COMMA;
  body.set(SUFFIX, to);
  return body;
}

/** Capped exponential backoff with jitter (half to full of the step), so a fleet does not retry in step. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: number): number {
  return jitter(backoff(attempt + 1, { initial: baseMs, max: capMs }), random);
}

/** The shortest wait after a failed or refused request: the shipper's bound of 4 requests a second. */
export const MIN_RETRY_MS = 250;

/**
 * The wait before the next request after `failures` failed or refused ones in a row: doubling from
 * MIN_RETRY_MS, capped at `capMs`, jittered, never below MIN_RETRY_MS whatever `--retry-max` says.
 */
export function retryDelay(failures: number, capMs: number, random: number): number {
  return Math.max(MIN_RETRY_MS, backoffDelay(failures, MIN_RETRY_MS, Math.max(capMs, MIN_RETRY_MS), random));
}

/** `Retry-After` in seconds or as an HTTP date → milliseconds; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (header === null) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Whether a failed answer may succeed later: the server is overloaded, restarting or timed out. */
export const retryable = (status: number): boolean => status >= 500 || status === 429 || status === 408;
