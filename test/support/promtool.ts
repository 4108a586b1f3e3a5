// Test support: Prometheus's own checker (Debian package `prometheus`, installed by scripts/test when missing).

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `promtool ARGS` with `stdin`; fails loudly when promtool is not installed (never skips). */
export async function promtool(args: string[], stdin = ""): Promise<ToolResult> {
  const bin = Bun.which("promtool");
  if (bin === null) {
    throw new Error("promtool not found on PATH: scripts/test installs it (apt-get install prometheus)");
  }
  const p = Bun.spawn([bin, ...args], { stdin: new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}
