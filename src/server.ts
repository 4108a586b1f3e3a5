// Wires the modules into one running server: state, store, registry, reader, HTTP app, Bun.serve.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createArchiver } from "./archive/archiver.ts";
import { archiveFromConfig } from "./archive/index.ts";
import { tokensFromConfig } from "./auth/tokens.ts";
import { splitListen } from "./config/load.ts";
import type { Config } from "./config/schema.ts";
import { UsageError } from "./errors.ts";
import { createHooks } from "./hooks/hooks.ts";
import { createApp } from "./http/app.ts";
import { streamWebSocketHandler } from "./http/stream.ts";
import { type Db, openDb } from "./jobs/db.ts";
import { createRecovery } from "./jobs/recovery.ts";
import { createJobs } from "./jobs/registry.ts";
import { createLiveHub } from "./live/hub.ts";
import type { Logger } from "./log.ts";
import { createReader } from "./logs/read.ts";
import { createLogStore } from "./logs/store.ts";
import { createRetention, type Retention } from "./retention/sweep.ts";

/** Bun.serve's idleTimeout (s), at Bun's maximum: a connection silent both ways this long is closed. */
export const IDLE_TIMEOUT_S = 255;

export interface RunningServer {
  url: string;
  port: number;
  /** The retention sweep (tests call `sweep(now)` with a later time instead of waiting days). */
  retention: Retention;
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const { hostname, port } = splitListen(config.server.listen);
  // Refuses an open server on a non-loopback address before anything is opened or bound.
  const tokens = tokensFromConfig(config, hostname);
  const dir = config.log_storage.local_dir;
  const dbPath = config.log_storage.db_path ?? join(dir, "stroem-logs.db");
  let db: Db;
  try {
    mkdirSync(dir, { recursive: true });
    db = openDb(dbPath, { fsync: config.log_storage.fsync });
  } catch (e) {
    throw new UsageError(
      `cannot open log_storage (local_dir ${dir}, database ${dbPath}): ${(e as Error).message}`,
      1,
    );
  }
  const store = createLogStore({
    dir,
    maxOpenFiles: config.limits.max_open_files,
    fsync: config.log_storage.fsync,
    onDiscard: (id, bytes) =>
      log.warn(`job ${id}: discarded ${bytes} unacknowledged bytes past the recorded end`),
  });
  const jobs = createJobs({
    db,
    store,
    maxLineBytes: config.limits.max_line_bytes,
    maxJobBytes: config.limits.max_job_bytes,
    log,
  });
  // The terminal pipeline: hooks (a finisher, so their events land before settling), then the archive.
  if (config.hooks.length > 0) jobs.addFinisher(createHooks({ hooks: config.hooks, event: jobs.event, log }));
  const archiveTarget = archiveFromConfig(config.log_storage);
  const archiver =
    archiveTarget &&
    createArchiver({
      db,
      jobs,
      store,
      log,
      ...archiveTarget,
      retry: config.log_storage.archive_retry,
      rearchiveDelay: config.log_storage.rearchive_delay,
      deleteLocal: config.log_storage.delete_local_after_archive,
    });
  if (archiver) {
    jobs.onSettled(archiver.enqueue);
    jobs.onAppend((a) => archiver.noteAppend(a.job));
    jobs.addEditGuard(archiver.guardEdit);
    jobs.addAppendGuard(archiver.guardAppend);
  }
  const recovery = createRecovery({
    db,
    jobs,
    log,
    staleAfter: config.recovery.stale_after,
    interval: config.recovery.sweep_interval,
  });
  const retention = createRetention({
    db,
    jobs,
    store,
    log,
    config: config.retention,
    archive: archiver && archiveTarget ? { target: archiveTarget.target, busy: archiver.busy } : null,
  });
  const reader = createReader({
    store,
    getJob: jobs.get,
    checkpoint: jobs.checkpoint,
    archive: archiver?.tier,
  });
  const live = createLiveHub({
    jobs,
    reader,
    log,
    maxFrameBytes: config.stream.max_frame_bytes,
    maxBufferedBytes: config.stream.max_buffered_bytes,
    maxViewersPerJob: config.limits.max_streams_per_job,
    maxViewers: config.limits.max_streams,
  });
  const app = createApp({
    db,
    jobs,
    reader,
    log,
    tokens,
    localDir: dir,
    limits: config.limits,
    staleAfterMs: config.recovery.stale_after,
    live,
    extras: archiver ? [archiver.view] : [],
    stats: [
      ["archive", () => archiver?.stats() ?? null],
      ["retention", retention.stats],
      ["stream", live.stats],
    ],
    readyChecks: [store.health],
    // An unreachable archive target delays archives but not ingest or reads: a warning, not a 503.
    readyWarnings: archiver ? [archiver.readyCheck] : [],
  });

  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname,
      port,
      fetch: app.fetch, // Bodies are size-checked by the routes (a JSON 413); Bun's own check would answer an empty 413 first.
      maxRequestBodySize: 2 ** 40,
      // Bun counts a request whose answer has not started as idle and resets it after idleTimeout (10 s by
      // default): a read waiting on a slow S3, or a filtered scan of a large log that finds nothing for a
      // while, was cut off with no answer. Its maximum instead; slow bodies are bounded by
      // limits.request_timeout, live streams by their own ping-based timeout.
      idleTimeout: IDLE_TIMEOUT_S,
      websocket: streamWebSocketHandler(live, Math.round(config.stream.ping_interval / 1000)),
    });
  } catch (e) {
    store.closeAll();
    db.close();
    throw new Error(`cannot listen on ${config.server.listen}: ${(e as Error).message}`);
  }
  void jobs.resumeUnsettled();
  archiver?.resume();
  recovery.start();
  retention.start();
  const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}`;

  let stopping: Promise<void> | null = null;
  return {
    url,
    port: server.port!,
    retention,
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
        recovery.stop();
        // A sweep stops after its current batch; an S3 delete in flight cannot be aborted, so it is not awaited past the timeout.
        await Promise.race([retention.stop(), Bun.sleep(config.server.shutdown_timeout)]);
        await Promise.race([jobs.idle(), Bun.sleep(config.server.shutdown_timeout)]);
        // Running uploads are aborted; they are queued in the database and resume at the next start.
        await archiver?.stop();
        store.closeAll();
        db.close();
      })();
      return stopping;
    },
  };
}
