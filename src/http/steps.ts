// Steps route: each step of a job's log with its line count, first and last line, streams and runs.
import type { Hono } from "hono";
import { notFound } from "../errors.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Steps } from "../logs/steps.ts";
import { jobIdParam } from "./params.ts";

export function mountStepRoutes(app: Hono, deps: { jobs: Pick<Registry, "get">; steps: Steps }): void {
  app.get("/api/jobs/:id/steps", async (c) => {
    const id = jobIdParam(c);
    const answer = await deps.steps.summary(id);
    if (answer === null) {
      if ((await deps.jobs.get(id)) === null) {
        throw notFound(`job ${id} not found: no job registered and no log stored`, "job_not_found");
      }
      return c.json({
        source: "none",
        lines: 0,
        steps: [],
        last_step: null,
        other_lines: 0,
        steps_truncated: false,
      });
    }
    return c.json(answer);
  });
}
