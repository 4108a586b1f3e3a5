// The server's registry: process figures plus what the running modules already report (appends, job ends, viewers).
import { registerProcessMetrics } from "./process.ts";
import { createRegistry, type Registry } from "./registry.ts";

/** The narrow views of the running modules the metrics listen to (structural, so no module imports this one). */
export interface MetricSources {
  onAppend(fn: (a: { first: number; next: number; data: Uint8Array }) => void): void;
  onTerminal(fn: (job: { status: string }) => void): void;
  liveStats?: () => { jobs: number; viewers: number };
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

  const lines = registry.counter({
    name: "stroem_logs_appended_lines_total",
    help: "Lines committed to job logs (pushed lines and server events).",
  });
  const bytes = registry.counter({
    name: "stroem_logs_appended_bytes_total",
    help: "Bytes committed to job logs, as stored (JSONL).",
  });
  src.onAppend((a) => {
    lines.inc(a.next - a.first);
    bytes.inc(a.data.byteLength);
  });
  const ended = registry.counter({
    name: "stroem_logs_jobs_ended_total",
    help: "Jobs that reached a terminal status, by status.",
    labels: ["status"],
  });
  src.onTerminal((job) => ended.labels({ status: job.status }).inc());

  const live = src.liveStats;
  if (live) {
    registry.gauge({
      name: "stroem_logs_live_viewers",
      help: "Open live-stream WebSockets.",
      collect: (g) => g.set(live().viewers),
    });
    registry.gauge({
      name: "stroem_logs_live_jobs",
      help: "Jobs with at least one live-stream viewer.",
      collect: (g) => g.set(live().jobs),
    });
  }

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
