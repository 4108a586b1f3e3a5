// A push body, from its bytes to the JSONL it is stored as: decode, parse, validate, encode. Pure, and the same
// on the server's thread and on a decode worker (ingest/decode-worker.ts).
import { parse } from "../core/issues.ts";
import { type EncodedBatch, encodeBatch, type MaskText } from "../core/line.ts";
import { type Push, PushBody, pushFast } from "../protocol/push.ts";
import { parseJsonObject } from "./json.ts";

/** A decoded push: what the registry stores (`EncodedBatch`), and the step and key it came with. */
export interface DecodedPush extends EncodedBatch {
  step: string;
  batchId: string | null;
}

const encoder = new TextEncoder();

/** Validates a push body: the fast path, else the schema (whose messages every refusal carries). */
export function parsePush(input: unknown): Push {
  return pushFast(input) ?? parse(PushBody, input);
}

/**
 * Throws the route's AppError (400 with the schema's message) for a body that is not a valid push; `now` is the
 * timestamp of lines that carry none.
 */
export function decodePush(
  body: Uint8Array,
  now: string,
  maxLineBytes: number,
  mask: MaskText | null,
): DecodedPush {
  const push = parsePush(parseJsonObject(body));
  const { text, truncated } = encodeBatch(push.lines, push.step_name, now, maxLineBytes, mask);
  let lineBytes = 0;
  for (const l of push.lines) lineBytes += Buffer.byteLength(l.line);
  return {
    step: push.step_name,
    batchId: push.batch_id ?? null,
    data: encoder.encode(text),
    count: push.lines.length,
    truncated,
    lineBytes,
  };
}

/**
 * What the registry encodes in the job's turn: `pre` (decoded without a masker, on a worker) for a job without
 * secrets, else the body decoded again with the job's masker, which runs before any line is cut.
 */
export function withMasker(
  pre: DecodedPush,
  body: Uint8Array,
  now: string,
  maxLineBytes: number,
): (mask: MaskText | null) => DecodedPush {
  return (mask) => (mask === null ? pre : decodePush(body, now, maxLineBytes, mask));
}
