// Live-stream metrics from the hub's events: viewers open now, frames sent (live or caught up from disk),
// viewers that reached the live edge, and streams closed by reason.
import type { Events, StreamCloseWhy } from "../events.ts";
import type { Registry } from "./registry.ts";

const CLOSE_REASONS: readonly StreamCloseWhy[] = [
  "end",
  "over_budget",
  "cut",
  "error",
  "unreadable",
  "shutdown",
  "client",
];

export function registerLiveMetrics(registry: Registry, events: Events): void {
  // Kept from opened/closed, so a scrape reads two numbers instead of walking the viewers.
  const perJob = new Map<string, number>();
  const viewers = registry.gauge({ name: "stroem_logs_live_viewers", help: "Open live-stream WebSockets." });
  registry.gauge({
    name: "stroem_logs_live_jobs",
    help: "Jobs with at least one live-stream viewer.",
    collect: (g) => g.set(perJob.size),
  });
  const opened = registry.counter({
    name: "stroem_logs_live_streams_opened_total",
    help: "Live streams started (WebSocket upgrades that reached the hub).",
  });
  const closed = registry.counter({
    name: "stroem_logs_live_streams_closed_total",
    help: "Live streams closed, by reason: end (job over, every line sent), client, over_budget, cut, error, unreadable, shutdown.",
    labels: ["reason"],
  });
  for (const reason of CLOSE_REASONS) closed.labels({ reason });
  events.on("stream.opened", ({ job }) => {
    opened.inc();
    viewers.inc();
    perJob.set(job, (perJob.get(job) ?? 0) + 1);
  });
  events.on("stream.closed", ({ job, why }) => {
    closed.labels({ reason: why }).inc();
    viewers.dec();
    const n = (perJob.get(job) ?? 1) - 1;
    if (n > 0) perJob.set(job, n);
    else perJob.delete(job);
  });

  const frames = registry.counter({
    name: "stroem_logs_live_frames_total",
    help: "Frames sent to live viewers, by mode: live (as the lines committed) or catch-up (read back from the log).",
    labels: ["mode"],
  });
  const frameBytes = registry.counter({
    name: "stroem_logs_live_frame_bytes_total",
    help: "Bytes of those frames.",
    labels: ["mode"],
  });
  const series = (mode: "live" | "catch-up") => ({
    frames: frames.labels({ mode }),
    bytes: frameBytes.labels({ mode }),
  });
  const byMode = { live: series("live"), "catch-up": series("catch-up") };
  events.on("stream.frame", (f) => {
    const s = byMode[f.mode];
    s.frames.inc();
    s.bytes.inc(f.bytes);
  });
  const caughtUp = registry.counter({
    name: "stroem_logs_live_caught_up_total",
    help: "Times a viewer reached the job's committed end and went on with lines as they commit.",
  });
  events.on("stream.live", () => caughtUp.inc());
}
