// Job routes: register, create, show, list, complete, heartbeat, server events.
import type { Hono } from "hono";
import { notFound } from "../errors.ts";
import type { Lifecycle } from "../jobs/lifecycle.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Masking } from "../masking/index.ts";
import { checkSecrets } from "../masking/secrets.ts";
import { STALE_AFTER_HEADER } from "../protocol/heartbeat.ts";
import { type BodyLimits, readJson } from "./body.ts";
import {
  CompleteBody,
  EventBody,
  idempotencyKey,
  jobIdParam,
  ListQuery,
  parse,
  RegisterBody,
} from "./params.ts";

import { type JobExtra, jobView } from "./views.ts";

export interface JobRoutesDeps {
  registry: Registry;
  lifecycle: Pick<Lifecycle, "complete">;
  body: BodyLimits;
  extras: readonly JobExtra[];
  /** `recovery.stale_after`, told to every heartbeat (also a 404: the job may not exist before its first line). */
  staleAfterMs: number;
  /** Registers a body's `secrets`. */
  masking: Pick<Masking, "register" | "usable">;
}

export function mountJobRoutes(app: Hono, deps: JobRoutesDeps): void {
  const { registry, extras } = deps;
  const view = (job: Parameters<JobExtra>[0]) => jobView(job, extras);
  /** Refuses `secrets` before anything is written: bad values, or a job whose secrets cannot be added to. */
  const checkBodySecrets = (id: string | null, secrets: string[] | undefined) => {
    if (secrets === undefined) return;
    checkSecrets(secrets);
    if (id !== null) deps.masking.usable(id);
  };
  const addSecrets = async (id: string, secrets: string[] | undefined) => {
    if (secrets !== undefined && secrets.length > 0) await deps.masking.register(id, secrets);
  };

  app.put("/api/jobs/:id", async (c) => {
    const id = jobIdParam(c);
    const body = parse(RegisterBody, await readJson(c, deps.body));
    checkBodySecrets(id, body.secrets);
    // The secrets first: no line can be stored between the job's creation and its masking.
    const existed = body.secrets !== undefined && (await registry.get(id)) !== null;
    await addSecrets(id, body.secrets);
    const { job, created } = await registry.register(id, {
      workspace: body.workspace,
      task: body.task,
      created_at: body.created_at === undefined ? undefined : Date.parse(body.created_at),
    });
    return c.json(await view(job), created || (body.secrets !== undefined && !existed) ? 201 : 200);
  });

  app.post("/api/jobs", async (c) => {
    const body = parse(RegisterBody, await readJson(c, deps.body));
    checkBodySecrets(null, body.secrets);
    const { job } = await registry.register(crypto.randomUUID(), {
      workspace: body.workspace,
      task: body.task,
      created_at: body.created_at === undefined ? undefined : Date.parse(body.created_at),
    });
    await addSecrets(job.id, body.secrets);
    return c.json(await view(await registry.mustGet(job.id)), 201);
  });

  app.get("/api/jobs", async (c) => {
    const query = parse(ListQuery, c.req.query(), "invalid_query");
    const limit = Math.min(query.limit ?? 50, 1000);
    const list = await registry.list({
      limit,
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.workspace !== undefined ? { workspace: query.workspace } : {}),
      ...(query.task !== undefined ? { task: query.task } : {}),
    });
    return c.json({ jobs: await Promise.all(list.map(view)) });
  });

  app.get("/api/jobs/:id", async (c) => {
    const id = jobIdParam(c);
    const job = await registry.get(id);
    if (!job) throw notFound(`job ${id} not found`);
    return c.json(await view(job));
  });

  app.post("/worker/jobs/:id/complete", async (c) => {
    const id = jobIdParam(c);
    const body = parse(CompleteBody, await readJson(c, deps.body));
    const { job, changed } = await deps.lifecycle.complete(id, body.status, body.error ?? null);
    return c.json({ status: "ok", changed, job: await view(job) });
  });

  app.post("/worker/jobs/:id/heartbeat", async (c) => {
    c.header(STALE_AFTER_HEADER, String(deps.staleAfterMs));
    const id = jobIdParam(c);
    await registry.heartbeat(id);
    return c.json({ status: "ok" });
  });

  app.post("/api/jobs/:id/events", async (c) => {
    const id = jobIdParam(c);
    const key = idempotencyKey(c);
    const body = parse(EventBody, await readJson(c, deps.body));
    // Refused like a push when the job's secrets cannot be applied (the text would be withheld).
    deps.masking.usable(id);
    const r = await registry.event(id, body.message, key);
    return c.json({
      status: "ok",
      first: r.first,
      next: r.next,
      ...(r.duplicate ? { duplicate: true } : {}),
    });
  });
}
