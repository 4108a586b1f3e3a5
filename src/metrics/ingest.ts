// Ingest metrics from the registry's events: pushes by result, their lines, bytes and latency, what a push
// changed on the way (truncated, held, elided lines), appends, server events.
import type { EventMap, Events } from "../events.ts";
import { LATENCY_BUCKETS, type Registry } from "./registry.ts";

type Result = EventMap["push"]["outcome"];
const RESULTS: readonly Result[] = ["written", "held", "duplicate", "refused"];

export function registerIngestMetrics(
  registry: Registry,
  events: Events,
  decodes?: () => { worker: number; here: number },
): void {
  if (decodes) {
    registry.counter({
      name: "stroem_logs_push_decodes_worker_total",
      help: "Push bodies parsed and encoded on a decode worker (server.decode_workers); the others on the server's thread.",
      value: () => decodes().worker,
    });
  }
  const pushes = registry.counter({
    name: "stroem_logs_pushes_total",
    help: "Batches pushed that reached their job, by result: written, held (some lines in the size-cap window), duplicate (a retried key), refused.",
    labels: ["result"],
  });
  const refused = registry.counter({
    name: "stroem_logs_push_refusals_total",
    help: "Batches refused once they reached their job, by error code (disk_full, archive_unreadable, …).",
    labels: ["code"],
  });
  const lines = registry.counter({
    name: "stroem_logs_pushed_lines_total",
    help: "Lines in the batches pushed, by the batch's result.",
    labels: ["result"],
  });
  const bytes = registry.counter({
    name: "stroem_logs_pushed_bytes_total",
    help: "Bytes of line text (UTF-8) in the batches pushed, by the batch's result.",
    labels: ["result"],
  });
  const latency = registry.histogram({
    name: "stroem_logs_push_duration_seconds",
    help: "From a batch reaching its job to its result: the wait for the job's turn, the write and the commit (reading the body excluded).",
    labels: ["result"],
    buckets: LATENCY_BUCKETS,
  });
  const truncated = registry.counter({
    name: "stroem_logs_truncated_lines_total",
    help: "Lines cut to limits.max_line_bytes (they carry a marker).",
  });
  const held = registry.counter({
    name: "stroem_logs_held_lines_total",
    help: "Lines of a job over its size cap kept in the rolling window instead of the log.",
  });
  // Every result exists from the start, so rate() and alerts see a 0 before the first push.
  const series = (result: Result) => ({
    pushes: pushes.labels({ result }),
    lines: lines.labels({ result }),
    bytes: bytes.labels({ result }),
    latency: latency.labels({ result }),
  });
  const by = Object.fromEntries(RESULTS.map((r) => [r, series(r)])) as Record<
    Result,
    ReturnType<typeof series>
  >;
  events.on("push", (p) => {
    const s = by[p.outcome];
    s.pushes.inc();
    s.lines.inc(p.lines);
    s.bytes.inc(p.bytes);
    s.latency.observe(p.ms / 1000);
    if (p.code !== null) refused.labels({ code: p.code }).inc();
    if (p.truncated > 0) truncated.inc(p.truncated);
    if (p.held > 0) held.inc(p.held);
  });

  const appendedLines = registry.counter({
    name: "stroem_logs_appended_lines_total",
    help: "Lines committed to job logs (pushed lines and server events).",
  });
  const appendedBytes = registry.counter({
    name: "stroem_logs_appended_bytes_total",
    help: "Bytes committed to job logs, as stored (JSONL).",
  });
  events.on("appended", (a) => {
    appendedLines.inc(a.next - a.first);
    appendedBytes.inc(a.bytes.byteLength);
  });
  const serverEvents = registry.counter({
    name: "stroem_logs_server_events_total",
    help: "Server events recorded in job logs (hook and archive failures, recovery, size cap).",
  });
  events.on("server_event", () => serverEvents.inc());

  const capped = registry.counter({
    name: "stroem_logs_capped_jobs_total",
    help: "Jobs that reached half of limits.max_job_bytes: later lines go to the rolling window.",
  });
  events.on("cap.started", () => capped.inc());
  const elidedLines = registry.counter({
    name: "stroem_logs_elided_lines_total",
    help: "Lines of a capped job's window that did not fit and were left out at its end (a marker says how many).",
  });
  const elidedBytes = registry.counter({
    name: "stroem_logs_elided_bytes_total",
    help: "Bytes of those lines.",
  });
  events.on("cap.released", (c) => {
    elidedLines.inc(c.elided_lines);
    elidedBytes.inc(c.elided_bytes);
  });
}
