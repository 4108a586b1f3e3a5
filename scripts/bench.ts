#!/usr/bin/env bun
// `bun run bench`: every performance figure of the compiled binary next to this machine's limit for the same
// work, measured in the same run; one table. `--quick` (under 60 s), `--check` (exit 1 when a target is
// missed), `--no-build` (use dist/stroem-logs as it is), `--only ingest,read,mask,archive-member,web,...` (a subset);
// STROEM_BENCH_BIN=path measures another build of the binary. `--curves` (with or without --quick, --only
// ingest,live,logs) measures how each cost grows instead (scripts/bench/curves.ts): docs/perf/curves.json and *.svg.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { benchArchive } from "./bench/archive.ts";
import { benchArchiveMember } from "./bench/archive-member.ts";
import { writeBenchLog } from "./bench/biglog.ts";
import { type BenchOptions, type Figure, ROOT, type Row } from "./bench/common.ts";
import { runCurves } from "./bench/curves.ts";
import { benchIdle } from "./bench/idle.ts";
import { benchIngest } from "./bench/ingest.ts";
import { benchLive } from "./bench/live.ts";
import { benchMask } from "./bench/mask.ts";
import { type BigLog, benchRead } from "./bench/read.ts";
import { benchStartup } from "./bench/startup.ts";
import { benchWeb } from "./bench/web.ts";
import { benchWorker } from "./bench/worker.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const check = args.includes("--check");
const onlyArg = args.find((a) => a.startsWith("--only"));
const only =
  onlyArg === undefined ? null : (onlyArg.split("=")[1] ?? args[args.indexOf(onlyArg) + 1] ?? "").split(",");
const want = (name: string) => only === null || only.includes(name);

if (!args.includes("--no-build") && process.env.STROEM_BENCH_BIN === undefined) {
  const built = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (built.exitCode !== 0) process.exit(1);
}

const started = performance.now();
const dir = mkdtempSync(join(tmpdir(), "stroem-bench-"));
const o: BenchOptions = { quick, dir };
const figures: Figure[] = [];
const run = async (name: string, fn: () => Promise<Figure>) => {
  if (!want(name)) return;
  const t0 = performance.now();
  process.stderr.write(`bench: ${name}…`);
  const f = await fn();
  process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  figures.push(f);
};

if (args.includes("--curves")) {
  try {
    await runCurves(o, only);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

try {
  await run("startup", () => benchStartup(o));
  await run("ingest", () => benchIngest(o));
  await run("live", () => benchLive(o));
  await run("idle", () => benchIdle(o));
  await run("worker", () => benchWorker(o));
  await run("mask", () => benchMask(o));
  if (want("read") || want("archive") || want("archive-member") || want("web")) {
    const path = join(dir, "big.jsonl");
    const log: BigLog = { path, ...writeBenchLog(path, quick ? 256 * 1024 ** 2 : 1024 ** 3) };
    await run("read", () => benchRead(o, log));
    await run("archive", () => benchArchive(o, log));
    await run("archive-member", () => benchArchiveMember(o, log));
    await run("web", () => benchWeb(o, log));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const rows: Row[] = figures.flatMap((f) => f.rows);
const head = ["figure", "stroem-logs", "baseline (same run)", "ratio", "target", "result"];
const cells = rows.map((r) => [
  r.figure,
  r.value,
  r.baseline,
  r.ratio,
  r.target,
  r.pass === null ? "—" : r.pass ? "pass" : "FAIL",
]);
const line = (c: string[]) => `| ${c.join(" | ")} |`;
const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(
  `\nstroem-logs bench${quick ? " --quick" : ""}, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
    `${cpus().length} × ${cpu}, Bun ${Bun.version}, ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
);
console.log([line(head), line(head.map(() => "---")), ...cells.map(line)].join("\n"));
console.log("");
for (const n of figures.flatMap((f) => f.notes)) console.log(`- ${n}`);
const failed = rows.filter((r) => r.pass === false);
if (check && failed.length > 0) {
  console.error(`\nbench: ${failed.length} target(s) missed: ${failed.map((r) => r.figure).join("; ")}`);
  process.exit(1);
}
