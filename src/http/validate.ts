// Request validation at the boundary: valibot schemas for ids, bodies and queries, with precise messages.
import type { Context } from "hono";
import * as v from "valibot";
import { describeIssue } from "../core/issues.ts";
import { AppError, badRequest } from "../errors.ts";
import { IDEMPOTENCY_KEY, JOB_ID, JOB_ID_EXPECTED } from "../protocol/ids.ts";
import { type Push, PushBody, pushFast, StreamName } from "../protocol/push.ts";
import { STATUSES, TerminalStatusName } from "../protocol/status.ts";
import { Timestamp } from "../protocol/timestamp.ts";

export function jobIdParam(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!JOB_ID.test(id)) {
    throw badRequest(
      `invalid job id ${JSON.stringify(id.slice(0, 140))}: ${JOB_ID_EXPECTED}`,
      "invalid_job_id",
    );
  }
  return id;
}

/** Validates a push body: the fast path, else the schema (whose messages every refusal carries). */
export function parsePush(input: unknown): Push {
  return pushFast(input) ?? parse(PushBody, input);
}

const Name = v.pipe(v.string("expected a string"), v.nonEmpty("must not be empty"), v.maxLength(512));

export const RegisterBody = v.strictObject({
  workspace: Name,
  task: Name,
  created_at: v.optional(Timestamp),
});

export const CompleteBody = v.strictObject({
  status: TerminalStatusName,
  error: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(64 * 1024)))),
});

export const EventBody = v.strictObject({
  message: v.pipe(v.string("expected a string"), v.nonEmpty("must not be empty"), v.maxLength(64 * 1024)),
});

/** A non-negative integer query parameter; `what`, when given, opens its message. */
export const Count = (what?: string) =>
  v.pipe(
    v.string(),
    v.regex(
      /^\d{1,15}$/,
      (i) =>
        `${what === undefined ? "" : `${what}: `}expected a non-negative integer (got ${JSON.stringify(i.input)})`,
    ),
    v.transform(Number),
  );

export const ReadQuery = v.object({
  from: v.optional(Count("from")),
  limit: v.optional(Count("limit")),
  tail: v.optional(Count("tail")),
  stream: v.optional(StreamName),
  format: v.optional(
    v.picklist(["json", "ndjson"], (i) => `expected "json" or "ndjson" (got ${i.received})`),
  ),
});

export const ListQuery = v.object({
  status: v.optional(v.picklist(STATUSES, (i) => `unknown status ${i.received}`)),
  workspace: v.optional(v.string()),
  task: v.optional(v.string()),
  limit: v.optional(Count("limit")),
});

export function describe(issues: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const { path, message } = describeIssue(issues[0], {
    root: "body",
    indexBrackets: true,
    unknown: () => "unknown field",
    missing: "required field is missing",
  });
  const more =
    issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
  return `${path}: ${message}${more}`;
}

export function parse<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  code = "invalid_body",
): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (!r.success) throw badRequest(describe(r.issues), code);
  return r.output;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export interface BodyLimits {
  maxBytes: number;
  /** A body not fully received within this is a 408: a stalled client does not hold a request forever. */
  timeoutMs: number;
}

/** Reads a JSON body: 413 past `maxBytes`, 408 when it stalls, 400 for invalid UTF-8 or JSON. */
export async function readJson(c: Context, limits: BodyLimits): Promise<unknown> {
  const max = limits.maxBytes;
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > max) throw tooLarge(declared, max);
  const body = c.req.raw.body;
  if (body === null) throw badRequest("request body is empty: expected a JSON object", "invalid_json");
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void reader.cancel();
  }, limits.timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) throw tooLarge(size, max);
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof AppError || !timedOut) throw e;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  // A read cancelled by the timer ends as "done" or as an error: either way the body is incomplete.
  if (timedOut) {
    throw new AppError(
      408,
      "request_timeout",
      `request body not received within limits.request_timeout ${limits.timeoutMs} ms (got ${size} bytes)`,
    );
  }
  let text: string;
  try {
    text = strictUtf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  } catch {
    throw badRequest("request body is not valid UTF-8", "invalid_json");
  }
  if (text.trim() === "") throw badRequest("request body is empty: expected a JSON object", "invalid_json");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`, "invalid_json");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const got = Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
    throw badRequest(`body: expected a JSON object (got ${got})`, "invalid_body");
  }
  return value;
}

function tooLarge(size: number, max: number): AppError {
  return new AppError(
    413,
    "body_too_large",
    `request body exceeds limits.max_body_bytes ${max} (got ${size}${size === max + 1 ? "+" : ""} bytes)`,
  );
}

/** The `Idempotency-Key` header: null when absent, a 400 when it is not 1–200 visible ASCII characters. */
export function idempotencyKey(c: Context): string | null {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return null;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw badRequest(
      "Idempotency-Key: expected 1 to 200 visible ASCII characters",
      "invalid_idempotency_key",
    );
  }
  return key;
}
