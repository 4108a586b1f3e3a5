// Secrets for a job (write-only): a worker adds values while the job runs; nothing reads them back.
import type { Hono } from "hono";
import * as v from "valibot";
import type { Masking } from "../masking/index.ts";
import { MAX_SECRETS_PER_JOB } from "../masking/secrets.ts";
import { type BodyLimits, readJson } from "./body.ts";
import { jobIdParam, parse } from "./params.ts";
import type { JobExtra } from "./views.ts";

/**
 * A list of values. Messages never quote one (the answer of a refused request may be logged by a proxy):
 * length and shape are checked by masking/secrets.ts `checkSecrets`, which names values by position.
 */
export const SecretList = v.pipe(
  v.array(v.string("expected a string"), "expected a list of strings"),
  v.maxLength(MAX_SECRETS_PER_JOB, `expected at most ${MAX_SECRETS_PER_JOB} values`),
);

export const SecretsBody = v.strictObject({ secrets: SecretList });

export interface SecretRoutesDeps {
  masking: Pick<Masking, "register">;
  body: BodyLimits;
}

export function mountSecretRoutes(app: Hono, deps: SecretRoutesDeps): void {
  // As GitHub's `::add-mask::`: every line of the job committed after the answer is masked.
  app.post("/worker/jobs/:id/secrets", async (c) => {
    const id = jobIdParam(c);
    const body = parse(SecretsBody, await readJson(c, deps.body));
    const r = await deps.masking.register(id, body.secrets);
    return c.json({ status: "ok", added: r.added, secrets: r.count });
  });
}

/** A job's view gains `secrets`: how many values are registered and whether they are kept, never the values. */
export const secretsView =
  (masking: Pick<Masking, "status">): JobExtra =>
  async (job) => {
    const s = masking.status(job.id);
    return s === null ? {} : { secrets: { count: s.count, state: s.state } };
  };
