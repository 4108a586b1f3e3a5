// Test support: a CLI command piped into `head -1`, as a user runs `stroem-logs cat JOB | head -1`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN } from "./process.ts";
import { tempDir } from "./server.ts";

/**
 * Runs `stroem-logs ARGS | head -1` in bash and waits (at most `timeoutMs`, then fails loudly) for the
 * whole pipeline to end: what head printed, the command's exit code and its stderr.
 */
export async function pipedToHead(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ head: string; code: number; stderr: string }> {
  using dir = tempDir();
  const pidFile = join(dir.path, "pid");
  // The command records its pid before exec, so a hung one can be ended by its id.
  const script = `sh -c 'echo $$ > "$0"; exec "$@"' "$0" "$@" | head -1; echo "exit \${PIPESTATUS[0]}"`;
  const proc = Bun.spawn(["bash", "-c", script, pidFile, process.execPath, MAIN, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
    } catch {}
    proc.kill("SIGKILL");
  }, timeoutMs);
  const [out, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]).finally(() => clearTimeout(timer));
  if (hung)
    throw new Error(
      `stroem-logs ${args.join(" ")} | head -1 still running after ${timeoutMs} ms\nstderr: ${stderr}`,
    );
  const m = /^exit (\d+)\n$/m.exec(out);
  if (code !== 0 || !m) throw new Error(`pipeline failed (bash exit ${code}): ${out}\n${stderr}`);
  return { head: out.slice(0, m.index), code: Number(m[1]), stderr };
}
