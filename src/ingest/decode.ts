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

/** A body as a valid push, parsed and checked: throws the route's AppError (400 with the schema's message). */
export function parseBody(body: Uint8Array): Push {
  return parsePush(parseJsonObject(body));
}

/** The bytes of the lines' texts as they were sent (for the metrics). */
export function lineBytesOf(push: Push): number {
  let n = 0;
  for (const l of push.lines) n += Buffer.byteLength(l.line);
  return n;
}

/** A parsed push encoded as it is stored; `now` is the timestamp of lines that carry none. */
export function encodePush(
  push: Push,
  now: string,
  maxLineBytes: number,
  mask: MaskText | null,
  lineBytes = lineBytesOf(push),
): DecodedPush {
  const { text, truncated } = encodeBatch(push.lines, push.step_name, now, maxLineBytes, mask);
  return {
    step: push.step_name,
    batchId: push.batch_id ?? null,
    data: encoder.encode(text),
    count: push.lines.length,
    truncated,
    lineBytes,
  };
}

/** `parseBody`, then `encodePush`. */
export function decodePush(
  body: Uint8Array,
  now: string,
  maxLineBytes: number,
  mask: MaskText | null,
): DecodedPush {
  return encodePush(parseBody(body), now, maxLineBytes, mask);
}

/** A push as the route hands it to the registry: what was sent, its key, and its encoding in the job's turn. */
export interface PushForTurn {
  sent: { count: number; lineBytes: number };
  batchId: string | null;
  encode: (mask: MaskText | null) => EncodedBatch;
}

/**
 * A push of a job without secrets: decoded before its turn (on a worker), and decoded again with the job's
 * masker in its turn only if it has one by then.
 */
export function unmasked(pre: DecodedPush, body: Uint8Array, now: string, maxLineBytes: number): PushForTurn {
  return {
    sent: pre,
    batchId: pre.batchId,
    encode: (mask) => (mask === null ? pre : decodePush(body, now, maxLineBytes, mask)),
  };
}

/**
 * A push of a job with secrets: parsed once here, encoded in its turn with the masker it has then (which runs
 * before any line is cut). Decoded on a worker first, it was parsed twice: 0.90x -> 0.61x of an unmasked job's
 * lines per server CPU-second.
 */
export function masked(push: Push, now: string, maxLineBytes: number): PushForTurn {
  const lineBytes = lineBytesOf(push);
  return {
    sent: { count: push.lines.length, lineBytes },
    batchId: push.batch_id ?? null,
    encode: (mask) => encodePush(push, now, maxLineBytes, mask, lineBytes),
  };
}
