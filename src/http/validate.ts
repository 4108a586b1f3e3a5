// Request validation at the boundary: valibot schemas for ids, bodies and queries, with precise messages.
import type { Context } from "hono";
import * as v from "valibot";
import { AppError, badRequest } from "../errors.ts";
import { normalizeTs, SERVER_STEP } from "../logs/line.ts";

export const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function jobIdParam(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!JOB_ID.test(id)) {
    throw badRequest(
      `invalid job id ${JSON.stringify(id.slice(0, 140))}: expected a UUID or [A-Za-z0-9][A-Za-z0-9._-]{0,127}`,
      "invalid_job_id",
    );
  }
  return id;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

export const StepName = v.pipe(
  v.string("expected a string"),
  v.nonEmpty("must not be empty"),
  v.maxLength(256, (i) => `must be at most 256 characters (got ${i.input.length})`),
  v.check((s) => !CONTROL.test(s), "must not contain control characters"),
);

const WorkerStep = v.pipe(
  StepName,
  v.check((s) => s !== SERVER_STEP, `"${SERVER_STEP}" is reserved for server events`),
);

const Timestamp = v.pipe(
  v.string("expected an ISO 8601 timestamp string"),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const ts = normalizeTs(dataset.value);
    if (ts === null) {
      addIssue({
        message: `expected an ISO 8601 timestamp (got ${JSON.stringify(dataset.value.slice(0, 64))})`,
      });
      return NEVER;
    }
    return ts;
  }),
);

export const Stream = v.picklist(
  ["stdout", "stderr"],
  (i) => `expected "stdout" or "stderr" (got ${i.received})`,
);

export const PushBody = v.strictObject({
  step_name: WorkerStep,
  lines: v.pipe(
    v.array(
      v.strictObject({
        ts: v.optional(Timestamp),
        stream: Stream,
        line: v.string("expected a string"),
      }),
      "expected an array of lines",
    ),
    v.minLength(1, "must hold at least one line"),
  ),
  batch_id: v.optional(v.pipe(v.string(), v.nonEmpty(), v.maxLength(200))),
});

export type Push = v.InferOutput<typeof PushBody>;

/**
 * Validates a push body. A hand-written pass accepts what `PushBody` accepts, at a fraction of valibot's
 * cost per line (valibot was ~30% of the ingest path's CPU); whatever it does not accept goes through
 * `PushBody`, so every error message is the schema's.
 */
export function parsePush(input: unknown): Push {
  return pushFast(input) ?? parse(PushBody, input);
}

/** `PushBody`'s rules on the common shape; null for anything else (the schema then says what is wrong). */
function pushFast(input: unknown): Push | null {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return null;
  const o = input as Record<string, unknown>;
  for (const k in o) if (k !== "step_name" && k !== "lines" && k !== "batch_id") return null;
  const step = o.step_name;
  if (typeof step !== "string" || step.length === 0 || step.length > 256) return null;
  if (CONTROL.test(step) || step === SERVER_STEP) return null;
  const batchId = o.batch_id;
  if (batchId !== undefined && (typeof batchId !== "string" || batchId.length === 0 || batchId.length > 200))
    return null;
  const lines = o.lines;
  if (!Array.isArray(lines) || lines.length === 0) return null;
  const out: Push["lines"] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as Record<string, unknown>;
    if (typeof l !== "object" || l === null || Array.isArray(l)) return null;
    for (const k in l) if (k !== "ts" && k !== "stream" && k !== "line") return null;
    const { ts, stream, line } = l;
    if ((stream !== "stdout" && stream !== "stderr") || typeof line !== "string") return null;
    if (ts === undefined) {
      out[i] = { stream, line };
      continue;
    }
    const norm = typeof ts === "string" ? normalizeTs(ts) : null;
    if (norm === null) return null;
    out[i] = { ts: norm, stream, line };
  }
  return typeof batchId === "string"
    ? { step_name: step, lines: out, batch_id: batchId }
    : { step_name: step, lines: out };
}

const Name = v.pipe(v.string("expected a string"), v.nonEmpty("must not be empty"), v.maxLength(512));

export const RegisterBody = v.strictObject({
  workspace: Name,
  task: Name,
  created_at: v.optional(Timestamp),
});

export const CompleteBody = v.strictObject({
  status: v.picklist(
    ["completed", "failed", "cancelled", "skipped"],
    (i) => `expected one of completed, failed, cancelled, skipped (got ${i.received})`,
  ),
  error: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(64 * 1024)))),
});

export const EventBody = v.strictObject({
  message: v.pipe(v.string("expected a string"), v.nonEmpty("must not be empty"), v.maxLength(64 * 1024)),
});

const Count = (what: string) =>
  v.pipe(
    v.string(),
    v.regex(/^\d{1,15}$/, (i) => `${what}: expected a non-negative integer (got ${JSON.stringify(i.input)})`),
    v.transform(Number),
  );

export const ReadQuery = v.object({
  from: v.optional(Count("from")),
  limit: v.optional(Count("limit")),
  tail: v.optional(Count("tail")),
  stream: v.optional(Stream),
  format: v.optional(
    v.picklist(["json", "ndjson"], (i) => `expected "json" or "ndjson" (got ${i.received})`),
  ),
});

export const ListQuery = v.object({
  status: v.optional(
    v.picklist(
      ["pending", "running", "completed", "failed", "cancelled", "skipped"],
      (i) => `unknown status ${i.received}`,
    ),
  ),
  workspace: v.optional(v.string()),
  task: v.optional(v.string()),
  limit: v.optional(Count("limit")),
});

/** `lines.3.ts` → `lines[3].ts` */
function pathOf(issue: v.BaseIssue<unknown>): string {
  const dot = v.getDotPath(issue);
  return dot === null ? "body" : dot.replace(/\.(\d+)(?=\.|$)/g, "[$1]");
}

export function describe(issues: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const first = issues[0];
  const path = pathOf(first);
  let message = first.message;
  if (first.expected === "never") message = "unknown field";
  else if (first.type === "strict_object" && first.received === "undefined")
    message = "required field is missing";
  else message = message.replace(/^Invalid type: Expected (.*) but received (.*)$/, "expected $1 (got $2)");
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

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

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
