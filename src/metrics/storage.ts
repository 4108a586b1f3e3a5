// Local storage metrics: whether writes to local_dir fail (the disk full among them), from the store's
// health event, and the log files held open against limits.max_open_files.
import type { Events } from "../events.ts";
import type { Registry } from "./registry.ts";

export function registerStorageMetrics(
  registry: Registry,
  events: Events,
  files: { open: () => number; max: number },
): void {
  const failing = registry.gauge({
    name: "stroem_logs_storage_failing",
    help: "1 while writes to local_dir fail (pushes answer 507 or 503), 0 once one succeeds again.",
  });
  const full = registry.gauge({
    name: "stroem_logs_storage_disk_full",
    help: "1 while writes to local_dir fail for want of space (ENOSPC, EDQUOT: pushes answer 507 disk_full).",
  });
  events.on("storage.state", (s) => {
    failing.set(s.failing === null ? 0 : 1);
    full.set(s.failing?.code === "disk_full" ? 1 : 0);
  });
  registry.gauge({
    name: "stroem_logs_open_log_files",
    help: "Job log files the store holds open for appends (least recently used closed past the limit).",
    // The size of the store's handle map: one number, not a walk over state.
    collect: (g) => g.set(files.open()),
  });
  registry.gauge({
    name: "stroem_logs_open_log_files_limit",
    help: "limits.max_open_files: how many job log files the store keeps open at most.",
    collect: (g) => g.set(files.max),
  });
}
