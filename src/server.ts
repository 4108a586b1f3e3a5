// Wires the modules into one service (state, store, registry, lifecycle, archive, hub, HTTP app), and binds it
// to Bun.serve. Wiring only: what each part does lives in its folder.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Hono } from "hono";
import { archiveFromConfig, createArchive } from "./archive/index.ts";
import { describeTokenChange, swappableTokens, tokensFromConfig } from "./auth/tokens.ts";
import { splitListen } from "./config/load.ts";
import type { Config } from "./config/schema.ts";
import { UsageError } from "./errors.ts";
import { createEvents, type Events } from "./events.ts";
import { createHooks } from "./hooks/hooks.ts";
import { createApp } from "./http/app.ts";
import { secretsView } from "./http/secrets.ts";
import { streamWebSocketHandler } from "./http/stream.ts";
import { createDecodePool } from "./ingest/decode-pool.ts";
import { createCap } from "./jobs/cap.ts";
import { createLifecycle } from "./jobs/lifecycle.ts";
import { createRecovery } from "./jobs/recovery.ts";
import { createRegistry } from "./jobs/registry.ts";
import { createLiveHub, type LiveHub } from "./live/hub.ts";
import type { Logger } from "./log.ts";
import { createReader } from "./logs/read.ts";
import { createRegexPool } from "./logs/regex-pool.ts";
import { createSearch } from "./logs/search.ts";
import { createSteps } from "./logs/steps.ts";
import { createLogStore } from "./logs/store.ts";
import { createMasking } from "./masking/index.ts";
import { createSecrets } from "./masking/secrets.ts";
import { createVault, readKeyFile } from "./masking/vault.ts";
import { createServiceMetrics } from "./metrics/service.ts";
import { createRetention, type Retention } from "./retention/sweep.ts";
import { openSqliteState, type SqliteState } from "./state/sqlite/open.ts";
import { stromClientFromConfig } from "./strom/client.ts";
import { createStromSync } from "./strom/sync.ts";
import { webRoutes } from "./web/serve.ts";

export interface RunningServer {
  url: string;
  port: number;
  /** The retention sweep (tests call `sweep(now)` with a later time instead of waiting days). */
  retention: Retention;
  /** What the server commits, as it commits it (tests in this process wait on these instead of polling). */
  events: Events;
  /**
   * A SIGHUP reload: `load()` reads the new config; its tokens and hooks replace the running ones at once
   * and what changed is returned in words that name no secret. A config that fails to load, or tokens that
   * serve would refuse, throw and leave everything as it was. Counted in the reload metrics either way.
   */
  reload(load: () => Config): { config: Config; changes: string[] };
  stop(): Promise<void>;
}

/** Everything but the socket: what `app.request` in a test drives the same way Bun.serve does. */
export interface Service {
  app: Hono;
  live: LiveHub;
  events: Events;
  retention: Retention;
  /** See RunningServer.reload. */
  reload(load: () => Config): { config: Config; changes: string[] };
  /** Starts the background work: unsettled jobs, the archive queue, recovery and retention sweeps. */
  start(): void;
  /** Stops the background work, then closes the files and the state. */
  close(): Promise<void>;
}

/** Bun's listen errors, said plainly ("Failed to start server. Is port 8080 in use?" names no cause). */
function listenProblem(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case "EADDRINUSE":
      return "address already in use (EADDRINUSE): another process listens there";
    case "EADDRNOTAVAIL":
      return "address not available on this host (EADDRNOTAVAIL)";
    case "EACCES":
      return "permission denied (EACCES): ports below 1024 need CAP_NET_BIND_SERVICE";
    default:
      return code !== undefined ? `${(e as Error).message} (${code})` : (e as Error).message;
  }
}

export async function createService(config: Config, log: Logger): Promise<Service> {
  const { hostname } = splitListen(config.server.listen);
  // Refuses an open server on a non-loopback address before anything is opened or bound.
  const tokens = swappableTokens(tokensFromConfig(config, hostname));
  const dir = config.log_storage.local_dir;
  const dbPath = config.log_storage.db_path ?? join(dir, "stroem-logs.db");
  let state: SqliteState;
  try {
    mkdirSync(dir, { recursive: true });
    state = openSqliteState(dbPath, { fsync: config.log_storage.fsync });
  } catch (e) {
    throw new UsageError(
      `cannot open log_storage (local_dir ${dir}, database ${dbPath}): ${(e as Error).message}`,
      1,
      e,
    );
  }
  if (state.schema.from !== state.schema.to && !state.schema.created)
    log.info(
      `state: database ${dbPath} migrated from schema version ${state.schema.from} to ${state.schema.to}`,
    );
  const events = createEvents(log);
  // Registered secrets: sealed in the state under masking.key_file, else in memory only (masking/secrets.ts).
  const keyFile = config.masking.key_file;
  let secrets: Awaited<ReturnType<typeof createSecrets>>;
  try {
    secrets = await createSecrets({
      repo: state.secrets,
      vault: keyFile === undefined ? null : createVault(readKeyFile(keyFile)),
      log,
    });
  } catch (e) {
    await state.close();
    throw e;
  }
  const store = createLogStore({
    dir,
    maxOpenFiles: config.limits.max_open_files,
    fsync: config.log_storage.fsync,
    onDiscard: (id, bytes) =>
      log.warn(`job ${id}: discarded ${bytes} unacknowledged bytes past the recorded end`),
    onHealth: (failing) => events.emit("storage.state", { failing }),
  });
  const cap = createCap({
    caps: state.caps,
    store,
    maxJobBytes: config.limits.max_job_bytes,
    known: await state.caps.ids(),
  });
  const archiveTarget = archiveFromConfig(config.log_storage);
  // The archive needs the registry (job rows, server events, a job's turn) and the registry the archive's
  // guard: the guard is handed over once both exist.
  let archive: ReturnType<typeof createArchive> | null = null;
  const registry = createRegistry({
    state,
    store,
    events,
    cap,
    maxLineBytes: config.limits.max_line_bytes,
    archiveGuard: archiveTarget && {
      lateAppend: (job) => archive!.guard.lateAppend(job),
      edit: (job) => archive!.guard.edit(job),
    },
    masks: secrets,
    log,
  });
  const masking = createMasking({
    secrets,
    registry,
    events,
    forgetAfter: config.masking.forget_after,
    log,
  });
  // The hooks are read at each job end: a SIGHUP reload swaps them.
  let hooks = config.hooks;
  archive =
    archiveTarget &&
    createArchive({
      archives: state.archives,
      registry,
      store,
      events,
      log,
      ...archiveTarget,
      retry: config.log_storage.archive_retry,
      rearchiveDelay: config.log_storage.rearchive_delay,
      deleteLocal: config.log_storage.delete_local_after_archive,
    });
  // A job's end: window → hooks → settled → archive queue (jobs/lifecycle.ts).
  const lifecycle = createLifecycle({
    registry,
    jobs: state.jobs,
    store,
    events,
    cap,
    hooks: createHooks({ hooks: () => hooks, event: registry.event, masked: registry.masked, events, log }),
    archive,
    log,
  });
  // Strøm mode: jobs learnt from Strøm's API, their end taken from Strøm, reads with Strøm credentials asked there.
  const strom = config.strom ? stromClientFromConfig(config.strom) : null;
  const stromSync =
    strom &&
    config.strom &&
    createStromSync({
      client: strom,
      registry,
      lifecycle,
      jobs: state.jobs,
      events,
      log,
      pollInterval: config.strom.poll_interval,
      lateEvents: config.strom.late_events,
    });
  const recovery = createRecovery({
    jobs: state.jobs,
    registry,
    lifecycle,
    events,
    log,
    staleAfter: config.recovery.stale_after,
    interval: config.recovery.sweep_interval,
    spare: stromSync?.spare ?? null,
  });
  const retention = createRetention({
    state,
    registry,
    store,
    events,
    log,
    config: config.retention,
    archive: archive && { target: archive.target, busy: archive.busy },
  });
  const reader = createReader({
    store,
    getJob: registry.get,
    checkpoint: registry.checkpoint,
    archive: archive?.tier,
  });
  const raw = { store, getJob: registry.get, sourceOf: reader.sourceOf, archive: archive?.tier };
  const regex = createRegexPool();
  const decoder = createDecodePool({
    workers: config.server.decode_workers,
    maxLineBytes: config.limits.max_line_bytes,
    log,
  });
  const search = createSearch({ ...raw, checkpoint: registry.checkpoint, regex });
  const steps = createSteps(raw);
  const live = createLiveHub({
    getJob: registry.get,
    reader,
    events,
    log,
    maxFrameBytes: config.stream.max_frame_bytes,
    maxBufferedBytes: config.stream.max_buffered_bytes,
    maxViewersPerJob: config.limits.max_streams_per_job,
    maxViewers: config.limits.max_streams,
  });
  const metrics = createServiceMetrics({
    events,
    // Read before anything runs, so the queue gauge starts where the database is and follows the events.
    archiveBacklog: archive && (await state.archives.unfinished()),
    logFiles: { open: store.openHandles, max: config.limits.max_open_files },
    decodes: decoder.counts,
    onCollectError: (name, e) => log.error(`metrics: collecting ${name} failed`, e),
  });
  const app = createApp({
    state,
    registry,
    lifecycle,
    masking,
    reader,
    log,
    tokens,
    strom,
    localDir: dir,
    limits: config.limits,
    staleAfterMs: config.recovery.stale_after,
    idleTimeout: config.server.idle_timeout,
    live,
    search,
    regex,
    decoder,
    steps,
    extras: [...(archive ? [archive.view] : []), secretsView(masking)],
    stats: [
      ["archive", () => archive?.stats() ?? null],
      ["retention", retention.stats],
      ["stream", live.stats],
    ],
    readyChecks: [store.health],
    // An unreachable archive target delays archives but not ingest or reads: a warning, not a 503.
    readyWarnings: archive ? [archive.readyCheck] : [],
    metrics: metrics.registry,
  });

  return {
    app,
    live,
    events,
    retention,
    reload(load) {
      let next: Config;
      let nextTokens: ReturnType<typeof tokensFromConfig>;
      try {
        next = load();
        // The address the server listens on, not the new file's: a listen change waits for a restart.
        nextTokens = tokensFromConfig(next, hostname);
      } catch (e) {
        metrics.reloaded("refused");
        throw e;
      }
      const changes = describeTokenChange(tokens, nextTokens);
      tokens.swap(nextTokens);
      if (JSON.stringify(next.hooks) !== JSON.stringify(hooks))
        changes.push(`hooks replaced (${next.hooks.length} now)`);
      hooks = next.hooks;
      metrics.reloaded("ok");
      return { config: next, changes };
    },
    start() {
      masking
        .start()
        .catch((e) => log.error("masking: scheduling the deletion of ended jobs' secrets failed", e));
      void lifecycle.resumeUnsettled();
      void archive?.resume();
      recovery.start();
      stromSync?.start();
      retention.start();
    },
    async close() {
      await recovery.stop();
      await stromSync?.stop();
      metrics.stop();
      // A sweep stops after its current batch; an S3 delete in flight cannot be aborted, so it is not awaited past the timeout.
      await Promise.race([retention.stop(), Bun.sleep(config.server.shutdown_timeout)]);
      await Promise.race([lifecycle.idle(), Bun.sleep(config.server.shutdown_timeout)]);
      // Running uploads are aborted; they are queued in the database and resume at the next start.
      await archive?.stop();
      await masking.stop();
      await registry.idle();
      regex.close();
      decoder.close();
      store.closeAll();
      await state.close();
    },
  };
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const { hostname, port } = splitListen(config.server.listen);
  const service = await createService(config, log);
  const { live } = service;
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname,
      port,
      // The log viewer's page (embedded at build time) beside the API; Bun's dev bundler stays off.
      routes: webRoutes,
      development: false,
      fetch: service.app.fetch, // Bodies are size-checked by the routes (a JSON 413); Bun's own check would answer an empty 413 first.
      maxRequestBodySize: 2 ** 40,
      idleTimeout: config.server.idle_timeout / 1000,
      websocket: streamWebSocketHandler(live, Math.round(config.stream.ping_interval / 1000)),
    });
  } catch (e) {
    await service.close();
    // One line, exit 1 (not 2: a port taken by another process may be free at the next restart).
    throw new UsageError(`cannot listen on ${config.server.listen}: ${listenProblem(e)}`, 1, e);
  }
  service.start();
  const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}`;

  let stopping: Promise<void> | null = null;
  return {
    url,
    port: server.port!,
    retention: service.retention,
    events: service.events,
    reload: service.reload,
    stop() {
      stopping ??= (async () => {
        // Live viewers would hold a graceful stop open until the timeout: close them (they resume with `from`).
        live.closeAll(1001, "server shutting down");
        // Stop accepting; let in-flight requests finish, up to the shutdown timeout.
        const graceful = server.stop(false);
        const timeout = Bun.sleep(config.server.shutdown_timeout).then(() => "timeout" as const);
        if ((await Promise.race([graceful, timeout])) === "timeout") {
          log.warn(
            `shutdown: in-flight requests still running after ${config.server.shutdown_timeout} ms; closing them`,
          );
          await server.stop(true);
        }
        await service.close();
      })();
      return stopping;
    },
  };
}
