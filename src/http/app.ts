// The HTTP application: routes mounted from their feature files, one error handler for all of them.
import { Hono } from "hono";
import type { Tokens } from "../auth/tokens.ts";
import { AppError, describeError } from "../errors.ts";
import type { PushDecoder } from "../ingest/decode-pool.ts";
import type { Lifecycle } from "../jobs/lifecycle.ts";
import type { Registry } from "../jobs/registry.ts";
import type { LiveHub } from "../live/hub.ts";
import type { Logger } from "../log.ts";
import type { Reader } from "../logs/read.ts";
import type { RegexPool } from "../logs/regex-pool.ts";
import type { Search } from "../logs/search.ts";
import type { Steps } from "../logs/steps.ts";
import type { Masking } from "../masking/index.ts";
import type { Registry as MetricsRegistry } from "../metrics/registry.ts";
import type { Repositories } from "../state/types.ts";
import type { StromClient } from "../strom/client.ts";
import { authMiddleware } from "./auth.ts";
import { compression } from "./compress.ts";
import { conventions } from "./conventions.ts";
import { mountDownloadRoutes } from "./download.ts";
import { etags } from "./etag.ts";
import { mountHealthRoutes, type ReadyCheck } from "./health.ts";
import { mountJobRoutes } from "./jobs.ts";
import { mountLogRoutes } from "./logs.ts";
import { mountMetricsRoutes } from "./metrics.ts";
import { observeRequests } from "./observe.ts";
import { mountOpenApiRoute } from "./openapi.ts";
import { mountSearchRoutes } from "./search.ts";
import { mountSecretRoutes } from "./secrets.ts";
import { mountStatsRoutes, type StatsSection } from "./stats.ts";
import { mountStepRoutes } from "./steps.ts";
import { mountStreamRoutes } from "./stream.ts";
import { pathForMessage, routePath, targetGuard } from "./target.ts";
import type { JobExtra } from "./views.ts";

export interface AppDeps {
  state: Pick<Repositories, "jobs" | "ping">;
  registry: Registry;
  lifecycle: Pick<Lifecycle, "complete">;
  /** Secrets registered for jobs (write-only routes). */
  masking: Pick<Masking, "register" | "usable">;
  reader: Reader;
  log: Logger;
  tokens: Tokens;
  /** Strøm mode: reads with a Strøm credential are authorised by asking Strøm (http/strom-auth.ts). */
  strom?: Pick<StromClient, "mayRead"> | null;
  localDir: string;
  limits: { max_body_bytes: number; max_read_bytes: number; max_line_bytes: number; request_timeout: number };
  /** Push bodies, parsed and encoded (ingest/decode-pool.ts). */
  decoder: PushDecoder;
  /** `recovery.stale_after`, told to workers in the heartbeat's answer. */
  staleAfterMs: number;
  /** `server.idle_timeout` in ms: reads turn it off while they work (http/idle.ts). */
  idleTimeout?: number;
  extras?: readonly JobExtra[];
  readyChecks?: readonly ReadyCheck[];
  /** Degraded dependencies: listed under `warnings` by /readyz, which stays 200. */
  readyWarnings?: readonly ReadyCheck[];
  /** Sections of `GET /api/stats` besides the job counts (archive queue, retention). */
  stats?: readonly StatsSection[];
  /** The live stream hub; without it the stream route is not mounted. */
  live?: LiveHub;
  /** The metrics registry: requests are counted into it and `GET /metrics` serves it. */
  metrics?: MetricsRegistry;
  /** Search and the steps summary (the log viewer's reads); without them their routes are not mounted. */
  search?: Search;
  steps?: Steps;
  /** The regex worker: reads filtered by `re` test their lines in it. */
  regex?: RegexPool;
}

/** The reads of a job's log that carry an ETag once the job is finished (http/etag.ts). */
const READS = [
  "/api/jobs/:id/logs",
  "/api/jobs/:id/steps/:step/logs",
  "/api/jobs/:id/logs/download",
  "/api/jobs/:id/steps",
  "/api/jobs/:id/search",
];

export function createApp(deps: AppDeps): Hono {
  // Routing reads the path through a parse that never throws: Bun hands odd targets over as is.
  const app = new Hono({ getPath: routePath });

  app.onError((err, c) => {
    if (err instanceof AppError) {
      // The server's side failed (a full disk, an unreadable archive): said once here, with what lay beneath.
      if (err.status >= 500) {
        const cause = err.cause === undefined ? "" : `\n${describeError(err.cause)}`;
        deps.log.warn(
          `${c.req.method} ${pathForMessage(c)}: ${err.status} ${err.code}: ${err.message}${cause}`,
        );
      }
      for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return c.json({ error: err.message, code: err.code }, err.status as 400);
    }
    deps.log.error(`${c.req.method} ${pathForMessage(c)} failed`, err);
    return c.json({ error: "internal server error", code: "internal" }, 500);
  });
  app.notFound((c) =>
    c.json({ error: `no route for ${c.req.method} ${pathForMessage(c)}`, code: "no_route" }, 404),
  );

  const body = { maxBytes: deps.limits.max_body_bytes, timeoutMs: deps.limits.request_timeout };
  app.use("*", targetGuard());
  // Before auth, so refusals are counted too.
  if (deps.metrics) app.use("*", observeRequests({ registry: deps.metrics, log: deps.log }));
  // Outside everything that builds a body, so an ETag set below it is seen (and made weak) when it compresses.
  app.use("*", compression());
  app.use("*", authMiddleware(deps.tokens, deps.strom ?? null));
  // Hono answers HEAD with a GET route's headers and drops its body unread: cancel that body, so a
  // streamed one releases what it holds (a file, an S3 connection) rather than waiting forever.
  app.use("*", async (c, next) => {
    await next();
    if (c.req.method === "HEAD" && c.res.body !== null) await c.res.body.cancel();
  });
  app.use("*", conventions(app));
  const tagged = etags({ jobs: deps.registry, reader: deps.reader });
  for (const path of READS) app.use(path, tagged);
  if (deps.metrics) mountMetricsRoutes(app, { registry: deps.metrics });
  mountHealthRoutes(app, {
    ping: deps.state.ping,
    localDir: deps.localDir,
    checks: deps.readyChecks ?? [],
    warnings: deps.readyWarnings ?? [],
    log: deps.log,
  });
  mountStatsRoutes(app, { jobs: deps.state.jobs, sections: deps.stats ?? [] });
  mountJobRoutes(app, {
    registry: deps.registry,
    lifecycle: deps.lifecycle,
    body,
    extras: deps.extras ?? [],
    staleAfterMs: deps.staleAfterMs,
    masking: deps.masking,
  });
  mountSecretRoutes(app, { masking: deps.masking, body });
  mountLogRoutes(app, {
    registry: deps.registry,
    reader: deps.reader,
    body,
    maxReadBytes: deps.limits.max_read_bytes,
    decoder: deps.decoder,
    maxLineBytes: deps.limits.max_line_bytes,
    ...(deps.idleTimeout === undefined ? {} : { idleTimeout: deps.idleTimeout }),
    log: deps.log,
    regex: deps.regex,
  });
  if (deps.live) mountStreamRoutes(app, { hub: deps.live });
  mountDownloadRoutes(app, { jobs: deps.registry, reader: deps.reader, log: deps.log, regex: deps.regex });
  if (deps.search) mountSearchRoutes(app, { jobs: deps.registry, search: deps.search });
  if (deps.steps) mountStepRoutes(app, { jobs: deps.registry, steps: deps.steps });
  mountOpenApiRoute(app);
  return app;
}
