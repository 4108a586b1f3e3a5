// Liveness and readiness: the database answers and local_dir takes writes; plug-ins add their own checks.
import { accessSync, constants, mkdirSync } from "node:fs";
import type { Hono } from "hono";
import type { Db } from "../jobs/db.ts";

/** A readiness check: null when fine, else what is wrong. */
export type ReadyCheck = () => string | null;

export function mountHealthRoutes(
  app: Hono,
  deps: { db: Db; localDir: string; checks: readonly ReadyCheck[] },
): void {
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const problems: string[] = [];
    try {
      deps.db.sqlite.query("SELECT 1").get();
    } catch (e) {
      problems.push(`database: ${(e as Error).message}`);
    }
    try {
      mkdirSync(deps.localDir, { recursive: true });
      accessSync(deps.localDir, constants.W_OK);
    } catch (e) {
      problems.push(`local_dir ${deps.localDir} not writable: ${(e as Error).message}`);
    }
    for (const check of deps.checks) {
      const problem = check();
      if (problem !== null) problems.push(problem);
    }
    return problems.length === 0
      ? c.json({ status: "ready" })
      : c.json({ status: "not_ready", problems }, 503);
  });
}
