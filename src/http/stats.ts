// GET /api/stats: job counts by status, and what plug-ins report (archive queue, retention counters).
import type { Hono } from "hono";
import type { Db } from "../jobs/db.ts";
import { STATUSES } from "../protocol/status.ts";

/** A named section of the stats answer, computed on each request. */
export type StatsSection = readonly [name: string, section: () => unknown];

export function mountStatsRoutes(app: Hono, deps: { db: Db; sections: readonly StatsSection[] }): void {
  const counts = deps.db.sqlite.query<{ status: string; n: number }, []>(
    "SELECT status, count(*) AS n FROM jobs GROUP BY status",
  );
  app.get("/api/stats", (c) => {
    const byStatus: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    let total = 0;
    for (const { status, n } of counts.all()) {
      byStatus[status] = n;
      total += n;
    }
    const out: Record<string, unknown> = { jobs: { total, by_status: byStatus } };
    for (const [name, section] of deps.sections) out[name] = section();
    return c.json(out);
  });
}
