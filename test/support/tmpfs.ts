// Test support: a small real tmpfs (root only), for disk-full tests with a real ENOSPC.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Tmpfs {
  path: string;
  [Symbol.dispose](): void;
}

/** Mounts a tmpfs of `size` (e.g. "1m"); null when this process may not mount (not root, no CAP_SYS_ADMIN). */
export function mountTmpfs(size: string): Tmpfs | null {
  const path = mkdtempSync(join(tmpdir(), "stroem-logs-tmpfs-"));
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path], { stderr: "pipe" });
  if (r.exitCode !== 0) {
    rmSync(path, { recursive: true, force: true });
    return null;
  }
  return {
    path,
    [Symbol.dispose]() {
      Bun.spawnSync(["umount", "-l", path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export const canMount = (() => {
  const t = mountTmpfs("64k");
  t?.[Symbol.dispose]();
  return t !== null;
})();
