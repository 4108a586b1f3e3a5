// GET /api/stats: job counts by status, and what other modules report (archive queue, retention counters).
import type { Hono } from "hono";
import type { JobsRepository } from "../state/types.ts";

/** A named section of the stats answer, computed on each request. */
export type StatsSection = readonly [name: string, section: () => unknown];

export function mountStatsRoutes(
  app: Hono,
  deps: { jobs: Pick<JobsRepository, "countByStatus">; sections: readonly StatsSection[] },
): void {
  app.get("/api/stats", async (c) => {
    const byStatus = await deps.jobs.countByStatus();
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const out: Record<string, unknown> = { jobs: { total, by_status: byStatus } };
    for (const [name, section] of deps.sections) out[name] = await section();
    return c.json(out);
  });
}
