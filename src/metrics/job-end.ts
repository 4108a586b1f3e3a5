// Metrics of what happens around a job's end, from their events: jobs ended, hooks by outcome, recovery of
// stale jobs, and the retention sweeps.
import type { Events } from "../events.ts";
import { type Registry, SLOW_BUCKETS } from "./registry.ts";

export function registerJobEndMetrics(registry: Registry, events: Events): void {
  const ended = registry.counter({
    name: "stroem_logs_jobs_ended_total",
    help: "Jobs that reached a terminal status, by status.",
    labels: ["status"],
  });
  for (const status of ["completed", "failed", "cancelled", "skipped"]) ended.labels({ status });
  events.on("terminal", ({ job }) => ended.labels({ status: job.status }).inc());

  const hooks = registry.counter({
    name: "stroem_logs_hooks_total",
    help: "Job-end hook deliveries by outcome: delivered (a 2xx) or failed (after its retries; a server event says why).",
    labels: ["outcome"],
  });
  const hookAttempts = registry.counter({
    name: "stroem_logs_hook_attempts_total",
    help: "POSTs made to hook URLs, retries included.",
  });
  const hookTime = registry.histogram({
    name: "stroem_logs_hook_duration_seconds",
    help: "From a hook's first POST to its outcome, retries and their backoff included.",
    labels: ["outcome"],
    buckets: SLOW_BUCKETS,
  });
  for (const outcome of ["delivered", "failed"] as const) {
    const count = hooks.labels({ outcome });
    const time = hookTime.labels({ outcome });
    events.on(outcome === "delivered" ? "hook.delivered" : "hook.failed", (h) => {
      count.inc();
      hookAttempts.inc(h.attempts);
      time.observe(h.ms / 1000);
    });
  }

  const recovered = registry.counter({
    name: "stroem_logs_recovery_failed_jobs_total",
    help: "Running jobs that recovery marked failed: no worker activity for recovery.stale_after.",
  });
  events.on("recovery.failed", () => recovered.inc());
  const recoveryErrors = registry.counter({
    name: "stroem_logs_recovery_errors_total",
    help: "Stale jobs recovery could not mark failed (retried at its next sweep; the service log says why).",
  });
  events.on("recovery.error", () => recoveryErrors.inc());

  const deleted = registry.counter({
    name: "stroem_logs_retention_deleted_total",
    help: "What retention removed, by kind: file (a local log after its archive), job (the job whole), object (an archive object).",
    labels: ["kind"],
  });
  for (const kind of ["file", "job", "object"] as const) deleted.labels({ kind });
  events.on("retention.deleted", ({ kind }) => deleted.labels({ kind }).inc());
  const sweeps = registry.counter({
    name: "stroem_logs_retention_sweeps_total",
    help: "Retention sweeps run.",
  });
  const sweepErrors = registry.counter({
    name: "stroem_logs_retention_errors_total",
    help: "Deletions retention tried and failed (left for the next sweep; the service log and /api/stats say why).",
  });
  const deferred = registry.counter({
    name: "stroem_logs_retention_deferred_total",
    help: "Jobs a sweep left for the next one because an upload or a restore of theirs was running.",
  });
  const sweepTime = registry.histogram({
    name: "stroem_logs_retention_sweep_duration_seconds",
    help: "How long a retention sweep took.",
    buckets: SLOW_BUCKETS,
  });
  const lastSweep = registry.gauge({
    name: "stroem_logs_retention_last_sweep_timestamp_seconds",
    help: "When the last retention sweep ended, since the Unix epoch (0 before the first).",
  });
  events.on("retention.swept", (r) => {
    sweeps.inc();
    sweepErrors.inc(r.errors);
    deferred.inc(r.deferred);
    sweepTime.observe(r.ms / 1000);
    lastSweep.set(Date.now() / 1000);
  });
}
