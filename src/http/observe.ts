// Every request counted and timed by route pattern and status (the HTTP metrics), before auth so refusals count.
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Logger } from "../log.ts";
import { LATENCY_BUCKETS, type Registry } from "../metrics/registry.ts";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/**
 * The pattern of the route the request was for (`/api/jobs/:id/logs`), never its path: a path carries job
 * ids, and one series per job would grow without bound. Middleware (method ALL) is not a route; a
 * request no route matched is `unmatched`.
 */
export function routeOf(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]!;
    if (r.method !== "ALL") return r.path;
  }
  return "unmatched";
}

/** The status the client saw: Hono's Bun adapter answers a completed WebSocket upgrade with a dummy 200. */
export function statusOf(c: Context): number {
  const s = c.res.status;
  // `body` last: reading it turns a buffered body into a stream.
  return s === 200 && c.req.header("upgrade")?.toLowerCase() === "websocket" && c.res.body === null ? 101 : s;
}

export function observeRequests(deps: { registry: Registry; log: Logger }): MiddlewareHandler {
  const requests = deps.registry.counter({
    name: "stroem_logs_http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status.",
    labels: ["method", "route", "status"],
  });
  const duration = deps.registry.histogram({
    name: "stroem_logs_http_request_duration_seconds",
    help: "Time from a request's arrival to its response headers, in seconds (a streamed body continues after).",
    labels: ["method", "route"],
    buckets: LATENCY_BUCKETS,
  });
  const inFlight = deps.registry.gauge({
    name: "stroem_logs_http_requests_in_flight",
    help: "HTTP requests being handled (streamed bodies and WebSockets not included once their headers are sent).",
  });
  return async (c, next) => {
    const started = performance.now();
    inFlight.inc();
    try {
      await next();
    } finally {
      inFlight.dec();
    }
    try {
      const method = METHODS.has(c.req.method) ? c.req.method : "other";
      const route = routeOf(c);
      const seconds = (performance.now() - started) / 1000;
      requests.labels({ method, route, status: statusOf(c) }).inc();
      duration.labels({ method, route }).observe(seconds);
    } catch (e) {
      // Counting a request must never turn its answer into a 500.
      deps.log.error("metrics: counting a request failed", e);
    }
  };
}
