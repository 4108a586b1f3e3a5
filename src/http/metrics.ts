// GET /metrics: the Prometheus text exposition of the server's registry (auth: a metrics or a read token).
import type { Hono } from "hono";
import { CONTENT_TYPE } from "../metrics/exposition.ts";
import type { Registry } from "../metrics/registry.ts";

export function mountMetricsRoutes(app: Hono, deps: { registry: Registry }): void {
  app.get("/metrics", (c) => c.body(deps.registry.expose(), 200, { "content-type": CONTENT_TYPE }));
}
