#!/usr/bin/env bun
// `bun scripts/bench/profile-ingest.ts [jobs] [seconds]`: the server (from source) under the ingest load with Bun's
// CPU profiler; prints where its time goes (self time by function and by file), for planning, not a figure.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnServer } from "../../test/support/process.ts";
import { ingestLoad } from "./ingest.ts";

const jobs = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 8);
const dir = mkdtempSync(join(tmpdir(), "stroem-profile-"));
const profDir = join(dir, "prof");

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

try {
  const server = await spawnServer({}, { dir, env: { BUN_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}` } });
  const r = await ingestLoad(server, {
    jobs,
    procs: 4,
    durationMs: seconds * 1000,
    warmupMs: 1000,
    tag: "prof",
  });
  await server.stop("SIGTERM");
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no profile written in ${profDir}`);
  const p = JSON.parse(readFileSync(join(profDir, file), "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const us = p.timeDeltas[i] ?? 0;
    total += us;
    const f = n.callFrame;
    const where = f.url.replace(/^.*\/(src|node_modules)\//, "$1/") || "(native)";
    const key = `${f.functionName || "(anonymous)"} ${where}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + us);
    files.set(where, (files.get(where) ?? 0) + us);
  });
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  console.log(
    `ingest ${jobs} jobs, ${seconds} s: ${Math.round(r.rate).toLocaleString("en")} lines/s (profiled, from source)`,
  );
  console.log(
    `server CPU ${Math.round(r.serverCpuMs)} ms over ${Math.round(r.wallMs)} ms; samples ${(total / 1e6).toFixed(1)} s`,
  );
  console.log("\nself time by function:");
  console.log(top(self, 30).join("\n"));
  console.log("\nself time by file:");
  console.log(top(files, 15).join("\n"));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
