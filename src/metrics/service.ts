// The server's registry: process figures plus every module's metrics, each fed by the events it emits.
import type { Events } from "../events.ts";
import type { ArchiveStateName } from "../state/types.ts";
import { registerArchiveMetrics } from "./archive.ts";
import { registerIngestMetrics } from "./ingest.ts";
import { registerJobEndMetrics } from "./job-end.ts";
import { registerLiveMetrics } from "./live.ts";
import { registerProcessMetrics } from "./process.ts";
import { createRegistry, type Registry } from "./registry.ts";
import { registerStorageMetrics } from "./storage.ts";

export interface MetricSources {
  events: Events;
  /** The archives with work left at start-up; null without an archive (its metrics are then not exported). */
  archiveBacklog: ReadonlyArray<{ job_id: string; state: ArchiveStateName }> | null;
  /** The store's open log files now, and `limits.max_open_files`. */
  logFiles: { open: () => number; max: number };
  /** Push bodies decoded so far on a decode worker and on the server's thread (ingest/decode-pool.ts). */
  decodes?: () => { worker: number; here: number };
  onCollectError?: (name: string, err: unknown) => void;
}

export interface ServiceMetrics {
  registry: Registry;
  /** A SIGHUP reload: `ok` applied, `refused` kept the running config. */
  reloaded(result: "ok" | "refused"): void;
  stop(): void;
}

export function createServiceMetrics(src: MetricSources): ServiceMetrics {
  const registry = createRegistry(src.onCollectError ? { onCollectError: src.onCollectError } : {});
  const proc = registerProcessMetrics(registry);
  registerIngestMetrics(registry, src.events, src.decodes);
  registerStorageMetrics(registry, src.events, src.logFiles);
  registerLiveMetrics(registry, src.events);
  registerJobEndMetrics(registry, src.events);
  if (src.archiveBacklog !== null) registerArchiveMetrics(registry, src.events, src.archiveBacklog);

  const reloads = registry.counter({
    name: "stroem_logs_config_reloads_total",
    help: "SIGHUP reloads, by result: ok (applied) or refused (the running config was kept).",
    labels: ["result"],
  });
  // Both series exist from the start, so rate() and alerts see a 0 before the first reload.
  reloads.labels({ result: "ok" });
  reloads.labels({ result: "refused" });
  const lastOk = registry.gauge({
    name: "stroem_logs_config_last_reload_successful",
    help: "1 when the last SIGHUP reload was applied (or none was asked for), 0 when it was refused.",
  });
  lastOk.set(1);
  const lastAt = registry.gauge({
    name: "stroem_logs_config_last_reload_success_timestamp_seconds",
    help: "When the running config was last loaded (start-up or an applied reload), since the Unix epoch.",
  });
  lastAt.set(Date.now() / 1000);

  return {
    registry,
    reloaded(result) {
      reloads.labels({ result }).inc();
      lastOk.set(result === "ok" ? 1 : 0);
      if (result === "ok") lastAt.set(Date.now() / 1000);
    },
    stop: proc.stop,
  };
}
