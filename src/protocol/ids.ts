// Names on the wire: job ids, step names and idempotency keys, as the server and its clients check them.
import * as v from "valibot";
import { SERVER_STEP } from "./line.ts";

/** A UUID or any `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`: never a path. */
export const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const JOB_ID_EXPECTED = "expected a UUID or [A-Za-z0-9][A-Za-z0-9._-]{0,127}";

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether `s` holds a control character (a step name may not). */
export const hasControl = (s: string): boolean => CONTROL.test(s);

export const StepName = v.pipe(
  v.string("expected a string"),
  v.nonEmpty("must not be empty"),
  v.maxLength(256, (i) => `must be at most 256 characters (got ${i.input.length})`),
  v.check((s) => !CONTROL.test(s), "must not contain control characters"),
);

/** A step a worker may push to: any step name but the one reserved for server events. */
export const WorkerStep = v.pipe(
  StepName,
  v.check((s) => s !== SERVER_STEP, `"${SERVER_STEP}" is reserved for server events`),
);

/** The `Idempotency-Key` header: 1 to 200 visible ASCII characters. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
