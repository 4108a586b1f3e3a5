// Request validation at the boundary: path parameters, headers, bodies and queries, with precise messages.
import type { Context } from "hono";
import * as v from "valibot";
import { parse } from "../core/issues.ts";
import { badRequest } from "../errors.ts";
import { IDEMPOTENCY_KEY, JOB_ID, JOB_ID_EXPECTED } from "../protocol/ids.ts";
import { StreamName } from "../protocol/push.ts";
import { STATUSES, TerminalStatusName } from "../protocol/status.ts";
import { Timestamp } from "../protocol/timestamp.ts";
import { FilterEntries } from "./filters.ts";

export { parse };

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

const Name = v.pipe(v.string("expected a string"), v.nonEmpty("must not be empty"), v.maxLength(512));

export const RegisterBody = v.strictObject({
  workspace: Name,
  task: Name,
  created_at: v.optional(Timestamp),
  /** Values masked in every later line of the job (write-only: never shown again). */
  secrets: v.optional(
    v.pipe(
      v.array(v.string("expected a string"), "expected a list of strings"),
      v.maxLength(1000, "expected at most 1000 values"),
    ),
  ),
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
  from: v.optional(Count()),
  limit: v.optional(Count()),
  tail: v.optional(Count()),
  stream: v.optional(StreamName),
  format: v.optional(
    v.picklist(["json", "ndjson"], (i) => `expected "json" or "ndjson" (got ${i.received})`),
  ),
  ...FilterEntries,
});

/** Jobs per page of the list: the default, and the most a page holds (more is a 400, never a silent cap). */
export const LIST_LIMIT = 50;
export const LIST_MAX = 1000;

export const ListQuery = v.object({
  status: v.optional(v.picklist(STATUSES, (i) => `unknown status ${i.received}`)),
  workspace: v.optional(v.string()),
  task: v.optional(v.string()),
  limit: v.optional(
    v.pipe(
      Count(),
      v.minValue(1, "must be at least 1"),
      v.maxValue(LIST_MAX, (i) => `must be at most ${LIST_MAX} (got ${i.input}): page with cursor`),
    ),
  ),
  cursor: v.optional(v.pipe(v.string(), v.nonEmpty("must not be empty"))),
});

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
