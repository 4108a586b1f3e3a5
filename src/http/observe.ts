// Every request counted and timed by route pattern and status (the HTTP metrics), and the access log line.
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { AppError } from "../errors.ts";
import type { LogFields, Logger } from "../log.ts";
import { LATENCY_BUCKETS, type Registry } from "../metrics/registry.ts";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
const JOB_PATH = /^\/(?:api|worker)\/jobs\/([^/]{1,200})/;

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

/** The `code` of an error answer: the AppError's (a bounded set), `internal` for anything else, `no_route`. */
function errorCode(c: Context, route: string, status: number): string | null {
  if (status < 400) return null;
  if (c.error instanceof AppError) return c.error.code;
  if (c.error !== undefined) return "internal";
  return route === "unmatched" && status === 404 ? "no_route" : null;
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
  const errors = deps.registry.counter({
    name: "stroem_logs_http_errors_total",
    help: "Requests answered with an error body, by method, route pattern and the body's code (invalid_body, unauthorized, disk_full, …).",
    labels: ["method", "route", "code"],
  });
  const inFlight = deps.registry.gauge({
    name: "stroem_logs_http_requests_in_flight",
    help: "HTTP requests being handled (streamed bodies and WebSockets not included once their headers are sent).",
  });
  return async (c, next) => {
    const started = performance.now();
    // Asked before the handler: once a WebSocket upgrade is done the server no longer knows the peer.
    const client = deps.log.access?.() ? clientOf(c) : undefined;
    inFlight.inc();
    try {
      await next();
    } finally {
      inFlight.dec();
    }
    try {
      const method = METHODS.has(c.req.method) ? c.req.method : "other";
      const route = routeOf(c);
      const status = statusOf(c);
      requests.labels({ method, route, status }).inc();
      const code = errorCode(c, route, status);
      if (code !== null) errors.labels({ method, route, code }).inc();
      duration.labels({ method, route }).observe((performance.now() - started) / 1000);
      const access = deps.log.access?.() ?? null;
      if (access !== null) accessLine(c, { route, status, started, client }, access);
    } catch (e) {
      // Counting a request must never turn its answer into a 500.
      deps.log.error("metrics: counting a request failed", e);
    }
  };
}

/**
 * Writes the request's access line: method, route pattern, status, bytes, duration, job id, client. Never
 * the path's query (a stream token may ride in `?token=`) nor any header. A body of unknown length is
 * counted as it is sent and the line written when it ends, so `duration_ms` covers the transfer.
 */
function accessLine(
  c: Context,
  req: { route: string; status: number; started: number; client: string | undefined },
  write: (fields: LogFields) => void,
): void {
  const { route, status, started, client } = req;
  const job = JOB_PATH.exec(c.req.path)?.[1];
  const line = (bytes: number, outcome?: string) =>
    write({
      method: c.req.method,
      route,
      status,
      bytes,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      ...(job !== undefined ? { job } : {}),
      ...(client !== undefined ? { client } : {}),
      ...(outcome !== undefined ? { outcome } : {}),
    });
  const res = c.res;
  const length = res.headers.get("content-length");
  // HEAD answers the headers only (Hono drops the GET's body), and an upgrade has none.
  if (length !== null || c.req.method === "HEAD" || status === 101 || res.body === null) {
    line(length !== null ? Number(length) : 0);
    return;
  }
  c.res = new Response(counted(res.body, line), res);
}

/** The peer's address from Bun's server (Hono's `env`); undefined without one (`app.request` in tests). */
function clientOf(c: Context): string | undefined {
  try {
    const server = c.env as { requestIP?: (r: Request) => { address: string } | null } | undefined;
    return server?.requestIP?.(c.req.raw)?.address;
  } catch {
    return undefined;
  }
}

/** The same bytes, counted; `done` once, when the body ends, fails or the client goes away. */
function counted(
  body: ReadableStream<Uint8Array>,
  done: (bytes: number, outcome?: string) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  let finished = false;
  const finish = (outcome?: string) => {
    if (finished) return;
    finished = true;
    done(bytes, outcome);
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await reader.read();
        } catch (e) {
          finish("failed");
          // The same error, so the connection is cut exactly as without the access log.
          controller.error(e);
          return;
        }
        if (r.done) {
          finish();
          controller.close();
          return;
        }
        bytes += r.value.byteLength;
        controller.enqueue(r.value);
      },
      cancel(reason) {
        finish("aborted");
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
