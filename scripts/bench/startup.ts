// Figure: compiled binary to its first 200 on /healthz, vs a bare Bun.serve binary compiled the same way.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type BenchOptions, BIN, type Figure, fmt, median } from "./common.ts";

/** Spawns `cmd`, waits for its `listening on URL` line, then for a 200 on /healthz; returns the ms taken. */
async function timeToHealthy(cmd: string[]): Promise<number> {
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  try {
    const reader = proc.stdout.getReader();
    const decoder = new TextDecoder();
    let out = "";
    let url: string | null = null;
    while (url === null) {
      const { value, done } = await reader.read();
      if (done)
        throw new Error(`${cmd[0]} exited before listening: ${await new Response(proc.stderr).text()}`);
      out += decoder.decode(value, { stream: true });
      url = /listening on (\S+)/.exec(out)?.[1] ?? null;
    }
    for (;;) {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - t0;
      if (performance.now() - t0 > 10_000) throw new Error(`${cmd[0]}: no 200 on /healthz within 10 s`);
    }
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

export async function benchStartup(o: BenchOptions): Promise<Figure> {
  const dir = join(o.dir, "startup");
  mkdirSync(dir, { recursive: true });
  const bare = join(dir, "bare-server");
  // Same compile options as scripts/build.ts, so the baseline pays the same runtime start-up.
  const built = await Bun.build({
    entrypoints: [join(import.meta.dir, "bare-server.ts")],
    compile: { outfile: bare, autoloadDotenv: false, autoloadBunfig: false },
    minify: true,
    bytecode: true,
    format: "esm",
  });
  if (!built.success) throw new Error(`building the bare server failed: ${built.logs.join("\n")}`);
  const config = join(dir, "config.yaml");
  await Bun.write(
    config,
    `server:\n  listen: "127.0.0.1:0"\nlog_storage:\n  local_dir: ${JSON.stringify(join(dir, "logs"))}\n`,
  );
  const ours: number[] = [];
  const base: number[] = [];
  const runs = o.quick ? 5 : 15;
  for (let i = 0; i < runs + 1; i++) {
    const a = await timeToHealthy([BIN, "serve", "--config", config]);
    const b = await timeToHealthy([bare]);
    if (i === 0) continue; // the first start of each reads the binary from disk
    ours.push(a);
    base.push(b);
  }
  const ms = median(ours);
  const baseMs = median(base);
  return {
    rows: [
      {
        figure: "start-up to first 200 on /healthz",
        value: `${fmt.ms(ms)} ms`,
        baseline: `${fmt.ms(baseMs)} ms (bare Bun.serve)`,
        ratio: fmt.ratio(ms / baseMs),
        target: "≤ 100 ms",
        pass: ms <= 100,
      },
    ],
    notes: [
      `start-up: median of ${runs} starts each (after one unmeasured start), interleaved, from spawn to the first ` +
        "200; the bare binary is compiled with the same options (minify, bytecode, autoload off).",
    ],
  };
}
