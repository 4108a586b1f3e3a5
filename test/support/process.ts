// Test support: the server as a real child process (for kill -9, RSS and signal tests), disposed with `await using`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Tree } from "../../src/config/load.ts";
import { merge, tempDir } from "./server.ts";
import { DEADLINE_MS } from "./wait.ts";

const ROOT = join(import.meta.dir, "..", "..");
export const MAIN = join(ROOT, "src", "main.ts");

export interface ServerProcess {
  url: string;
  dir: string;
  /** The config file it was started with (a reload test rewrites it). */
  configPath: string;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Peak resident set size of the server process so far (VmHWM), in bytes. */
  peakRss(): number;
  /** Current resident set size (VmRSS), in bytes. */
  rss(): number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM and wait; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Spawns `stroem-logs serve` (from source, or `bin` when given) on 127.0.0.1:0 with a config file
 * written into `dir` (a fresh temp dir unless given), and waits for its `listening on` line.
 */
export async function spawnServer(
  overrides: Tree = {},
  opts: { dir?: string; bin?: string; cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const own = opts.dir === undefined ? tempDir() : null;
  const dir = opts.dir ?? own!.path;
  const config = merge(
    { server: { listen: "127.0.0.1:0" }, log_storage: { local_dir: join(dir, "logs") } },
    overrides,
  );
  const configPath = join(dir, `config-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
  await Bun.write(configPath, stringify(config));
  const cmd = opts.bin
    ? [opts.bin, "serve", "--config", configPath]
    : [process.execPath, MAIN, "serve", "--config", configPath];
  const proc = Bun.spawn(cmd, {
    stdin: "ignore",
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  let err = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) err += decoder.decode(chunk, { stream: true });
  })();
  const url = await readListening(proc, opts.timeoutMs ?? DEADLINE_MS, () => err);
  const status = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
      readFileSync(`/proc/${proc.pid}/status`, "utf8"),
    );
    return m ? Number(m[1]) * 1024 : 0;
  };
  let exited: Promise<number> | null = null;
  const stop = (signal: NodeJS.Signals = "SIGTERM") => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exited;
    proc.kill(signal);
    exited ??= proc.exited;
    return exited;
  };
  return {
    url,
    dir,
    configPath,
    proc,
    peakRss: () => status("VmHWM"),
    rss: () => status("VmRSS"),
    stderr: () => err,
    stop,
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
      own?.[Symbol.dispose]();
    },
  };
}

async function readListening(
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">,
  timeoutMs: number,
  stderr: () => string,
): Promise<string> {
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let out = "";
  const deadline = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited before listening (code ${await proc.exited}):\n${stderr()}`);
      out += decoder.decode(value, { stream: true });
      const m = /listening on (\S+)/.exec(out);
      if (m) return m[1]!;
    }
  } finally {
    clearTimeout(deadline);
    reader.releaseLock();
  }
}
