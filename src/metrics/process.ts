// Process figures under their standard Prometheus names (CPU, memory, file descriptors, start time) and event-loop delay.
import { readdirSync, readFileSync } from "node:fs";
import { VERSION } from "../version.ts";
import type { Registry } from "./registry.ts";

const DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A `kB` field of /proc/self/status in bytes; NaN where /proc is absent (the gauge then reads NaN, not 0). */
function statusBytes(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

export interface ProcessMetrics {
  /** Stops the event-loop timer. */
  stop(): void;
}

/**
 * Registers the process metrics; `everyMs` is how often the event-loop probe fires (its delay past that
 * interval is what the histogram records: time the loop was busy with something else).
 */
export function registerProcessMetrics(registry: Registry, opts: { everyMs?: number } = {}): ProcessMetrics {
  const startSeconds = (Date.now() - process.uptime() * 1000) / 1000;
  registry.gauge({
    name: "stroem_logs_build_info",
    help: "Always 1; the labels say which version and Bun runtime run.",
    labels: ["version", "bun"],
    collect: (g) => g.labels({ version: VERSION, bun: Bun.version }).set(1),
  });
  registry.counter({
    name: "process_cpu_seconds_total",
    help: "User and system CPU time spent, in seconds.",
    value: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    },
  });
  registry.gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since the Unix epoch, in seconds.",
    collect: (g) => g.set(startSeconds),
  });
  // One read of /proc/self/status serves both memory gauges of a scrape.
  let status = "";
  registry.gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size, in bytes.",
    collect: (g) => {
      status = readOr("/proc/self/status");
      g.set(statusBytes(status, "VmRSS"));
    },
  });
  registry.gauge({
    name: "process_virtual_memory_bytes",
    help: "Virtual memory size, in bytes.",
    collect: (g) => g.set(statusBytes(status, "VmSize")),
  });
  registry.gauge({
    name: "process_open_fds",
    help: "Open file descriptors (log files, sockets, the database).",
    // The listing opens /proc/self/fd itself, and that descriptor is in the listing.
    collect: (g) => g.set(readdirSync("/proc/self/fd").length - 1),
  });
  registry.gauge({
    name: "process_max_fds",
    help: "The soft limit on open file descriptors.",
    collect: (g) => {
      const m = /^Max open files\s+(\d+|unlimited)/m.exec(readOr("/proc/self/limits"));
      g.set(m === null ? Number.NaN : m[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m[1]));
    },
  });
  registry.gauge({
    name: "stroem_logs_js_heap_used_bytes",
    help: "JavaScript heap in use, in bytes.",
    collect: (g) => g.set(process.memoryUsage().heapUsed),
  });

  const delay = registry.histogram({
    name: "stroem_logs_event_loop_delay_seconds",
    help: "How late a timer fired, in seconds: time the event loop spent on other work before it could run.",
    buckets: DELAY_BUCKETS,
  });
  const everyMs = opts.everyMs ?? 100;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const arm = () => {
    const expected = performance.now() + everyMs;
    timer = setTimeout(() => {
      delay.observe(Math.max(0, performance.now() - expected) / 1000);
      if (!stopped) arm();
    }, everyMs);
    // The probe must not keep a stopping process alive.
    timer.unref?.();
  };
  arm();
  return {
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    },
  };
}
