// Shared pieces of the benchmark: result rows, the compiled server as a child process, child scripts, stats.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Tree } from "../../src/config/load.ts";
import { type ServerProcess, spawnServer } from "../../test/support/process.ts";

export const ROOT = join(import.meta.dir, "..", "..");
/** The binary under test; `STROEM_BENCH_BIN` points at another build (a before/after comparison). */
export const BIN = process.env.STROEM_BENCH_BIN ?? join(ROOT, "dist", "stroem-logs");
export const MiB = 1024 * 1024;

/** One line of the result table. `pass` is null for a figure without a target of its own. */
export interface Row {
  figure: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
  pass: boolean | null;
}

export interface Figure {
  rows: Row[];
  /** How the figure was measured (load generation, sizes, what competes for the cores). */
  notes: string[];
}

export interface BenchOptions {
  quick: boolean;
  /** Scratch directory of this run (removed at the end). */
  dir: string;
}

/** The compiled binary as a child process on 127.0.0.1:0 over `dir`. */
export function spawnBinary(
  overrides: Tree,
  dir: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  return spawnServer(overrides, { bin: BIN, dir, env, timeoutMs: 30_000 });
}

/** `bun <script> ...args` with a raised open-file limit; resolves with its stdout parsed as JSON. */
export async function runChild<T>(script: string, args: string[], timeoutMs = 300_000): Promise<T> {
  const proc = spawnChild(script, args);
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`bench child ${script} ${args.join(" ")} exited ${code}:\n${err}`);
  return JSON.parse(out) as T;
}

/** A bench helper script as its own process (own core time, own heap), open-file limit at the hard limit. */
export function spawnChild(script: string, args: string[]) {
  const cmd = `ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  return Bun.spawn(["bash", "-c", cmd, process.execPath, join(import.meta.dir, script), ...args], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** A field of /proc/<pid>/status (VmRSS, VmHWM) in bytes. */
export function procStatus(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

export const fmt = {
  int: (n: number) => Math.round(n).toLocaleString("en"),
  ms: (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)),
  mb: (bytes: number) => (bytes / MiB).toFixed(0),
  ratio: (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(1)}×`,
};

/** Waits for `check` to hold, re-checking every `everyMs`; fails loudly after `ms`. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms: number,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}

export async function postJson(url: string, body: unknown, method = "POST"): Promise<Response> {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res;
}
