// Liveness and readiness: what stops the node (database, local_dir) is a 503; a degraded dependency a warning.
import { accessSync, constants, mkdirSync } from "node:fs";
import type { Hono } from "hono";
import type { Logger } from "../log.ts";

/** A readiness check: null when fine, else what is wrong. */
export type ReadyCheck = () => string | null | Promise<string | null>;

export interface HealthDeps {
  /** Resolves while the state answers. */
  ping: () => Promise<void>;
  localDir: string;
  /** Problems that stop the node ingesting or serving (disk full): /readyz answers 503. */
  checks: readonly ReadyCheck[];
  /**
   * Degraded dependencies (an unreachable archive target): the node still ingests and serves, so /readyz
   * stays 200 — a load balancer must not pull it — and lists them under `warnings`.
   */
  warnings?: readonly ReadyCheck[];
  log?: Logger;
}

export function mountHealthRoutes(app: Hono, deps: HealthDeps): void {
  // Logged when the answer changes, not on every probe: a load balancer asks every few seconds.
  let last = "";
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const problems: string[] = [];
    try {
      await deps.ping();
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
      const problem = await check();
      if (problem !== null) problems.push(problem);
    }
    const warnings: string[] = [];
    for (const check of deps.warnings ?? []) {
      const warning = await check();
      if (warning !== null) warnings.push(warning);
    }
    const now = JSON.stringify([problems, warnings]);
    if (now !== last && deps.log) {
      if (problems.length > 0) deps.log.warn(`readyz: not ready: ${problems.join("; ")}`);
      else if (warnings.length > 0) deps.log.warn(`readyz: ready, degraded: ${warnings.join("; ")}`);
      else if (last !== "") deps.log.info("readyz: ready");
    }
    last = now;
    const extra = warnings.length > 0 ? { warnings } : {};
    return problems.length === 0
      ? c.json({ status: "ready", ...extra })
      : c.json({ status: "not_ready", problems, ...extra }, 503);
  });
}
