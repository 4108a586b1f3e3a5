// Archive metrics from the archive's events: the queue by state, attempts, failures, verified uploads with
// their bytes and latency, local files removed, restores, and whether the target answers.
import type { Events } from "../events.ts";
import type { ArchiveStateName } from "../state/types.ts";
import { type Registry, SLOW_BUCKETS } from "./registry.ts";

type Waiting = Exclude<ArchiveStateName, "uploaded">;
const WAITING: readonly Waiting[] = ["pending", "uploading", "retrying"];

/** `backlog`: the archives with work left at start-up (read once, then kept from the events). */
export function registerArchiveMetrics(
  registry: Registry,
  events: Events,
  backlog: ReadonlyArray<{ job_id: string; state: ArchiveStateName }>,
): void {
  // One entry per archive with work left: what the queue holds, without a query per scrape.
  const queued = new Map<string, Waiting>();
  // An uploaded row in the backlog is one whose late lines were not uploaded yet.
  for (const row of backlog) queued.set(row.job_id, row.state === "uploaded" ? "pending" : row.state);
  registry.gauge({
    name: "stroem_logs_archive_queue_jobs",
    help: "Archives with work left, by state: pending (waiting for an attempt), uploading, retrying (after a failure, in backoff).",
    labels: ["state"],
    collect: (g) => {
      const n: Record<Waiting, number> = { pending: 0, uploading: 0, retrying: 0 };
      for (const s of queued.values()) n[s]++;
      for (const state of WAITING) g.labels({ state }).set(n[state]);
    },
  });
  events.on("archive.queued", ({ job }) => void queued.set(job, "pending"));
  events.on("archive.started", ({ job }) => void queued.set(job, "uploading"));
  events.on("retention.deleted", ({ kind, job }) => void (kind === "job" && queued.delete(job)));

  const attempts = registry.counter({
    name: "stroem_logs_archive_attempts_total",
    help: "Archive attempts started (gzip, upload, read back and verify).",
  });
  events.on("archive.started", () => attempts.inc());
  const duration = registry.histogram({
    name: "stroem_logs_archive_attempt_duration_seconds",
    help: "Archive attempts by result (uploaded: verified; failed: retried later), from start to result.",
    labels: ["result"],
    buckets: SLOW_BUCKETS,
  });
  const uploadedTime = duration.labels({ result: "uploaded" });
  const failedTime = duration.labels({ result: "failed" });

  const failures = registry.counter({
    name: "stroem_logs_archive_failures_total",
    help: "Archive attempts that failed (each is retried with backoff until one succeeds).",
  });
  events.on("archive.failed", (f) => {
    failures.inc();
    failedTime.observe(f.ms / 1000);
    queued.set(f.job, "retrying");
  });

  const uploads = registry.counter({
    name: "stroem_logs_archive_uploads_total",
    help: "Archives uploaded and verified (content read back and compared).",
  });
  const stored = registry.counter({
    name: "stroem_logs_archive_uploaded_bytes_total",
    help: "Bytes stored in the archive by verified uploads (gzip).",
  });
  const logBytes = registry.counter({
    name: "stroem_logs_archive_log_bytes_total",
    help: "Log bytes (JSONL) those uploads hold.",
  });
  events.on("archive.uploaded", (u) => {
    uploads.inc();
    stored.inc(u.bytes);
    logBytes.inc(u.log_bytes);
    uploadedTime.observe(u.ms / 1000);
    // Lines that came during the upload send it up again: it stays queued.
    if (u.complete) queued.delete(u.job);
    else queued.set(u.job, "pending");
  });

  const localDeleted = registry.counter({
    name: "stroem_logs_archive_local_files_deleted_total",
    help: "Local log files removed after a verified upload (delete_local_after_archive).",
  });
  events.on("archive.local_deleted", () => localDeleted.inc());

  const restores = registry.counter({
    name: "stroem_logs_archive_restores_total",
    help: "Local logs brought back from the archive for a late line or an edit, by result (ok, failed).",
    labels: ["result"],
  });
  const restoredOk = restores.labels({ result: "ok" });
  const restoreFailed = restores.labels({ result: "failed" });
  events.on("archive.restored", () => restoredOk.inc());
  events.on("archive.restore_failed", () => restoreFailed.inc());

  const reachable = registry.gauge({
    name: "stroem_logs_archive_target_reachable",
    help: "1 while the archive target answers, 0 from a failed upload or probe until it answers again.",
  });
  reachable.set(1);
  events.on("archive.target", ({ problem }) => reachable.set(problem === null ? 1 : 0));
}
