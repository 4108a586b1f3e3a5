// Figure: a big log compressed into one gzip member (src/archive/member.ts) vs `gzip -6` and today's
// multi-member gzipFile, and ranged reads of it through s3rver vs the same lines read from the local file.
import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseIndex, stepSpans } from "../../src/archive/seek-index.ts";
import { startS3 } from "../../test/support/s3.ts";
import { type BenchOptions, type Figure, fmt, MiB, runChild } from "./common.ts";
import type { BigLog } from "./read.ts";

interface Compressed {
  ms: number;
  cpuMs: number;
  bytes: number;
  rss: number;
  indexBytes: number;
}

interface ReadFigures {
  ms: Record<string, number>;
  bytes: Record<string, number>;
  rss: number;
  maxBlock: number;
  blocks: number;
}

async function gzip6(path: string, out: string): Promise<{ ms: number; cpuMs: number; bytes: number }> {
  const t0 = performance.now();
  const proc = Bun.spawn(["bash", "-c", 'exec gzip -6 -c "$0" > "$1"', path, out], { stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error("gzip -6 failed");
  const cpu = proc.resourceUsage()?.cpuTime;
  const cpuMs = cpu === undefined ? Number.NaN : Number(cpu.user + cpu.system) / 1000;
  return { ms: performance.now() - t0, cpuMs, bytes: Bun.file(out).size };
}

const compress = (args: string[]) => runChild<Compressed>("member-child.ts", ["compress", ...args], 900_000);

/** The first `bytes` of `src`, with the steps renamed so that they run one after another (s0, s1, …). */
function sequentialSteps(src: string, out: string, bytes: number, steps: number): number {
  const fdIn = openSync(src, "r");
  const fdOut = openSync(out, "w");
  const buf = Buffer.allocUnsafe(bytes);
  const n = readSync(fdIn, buf, 0, bytes, 0);
  closeSync(fdIn);
  const text = buf.toString("utf8", 0, buf.lastIndexOf(10, n - 1) + 1);
  const lines = text.split("\n");
  lines.pop();
  const per = Math.ceil(lines.length / steps);
  let i = 0;
  const body = `${lines.map((l) => l.replace(/"step":"[^"]*"/, () => `"step":"s${Math.floor(i++ / per)}"`)).join("\n")}\n`;
  writeSync(fdOut, body);
  closeSync(fdOut);
  return Buffer.byteLength(body);
}

export async function benchArchiveMember(o: BenchOptions, log: BigLog): Promise<Figure> {
  const gb = (log.size / 1024 ** 3).toFixed(2);
  const out = (name: string) => join(o.dir, `member-${name}.gz`);
  const rounds = o.quick ? 1 : 2;
  const best = {
    gzip: Number.POSITIVE_INFINITY,
    member: Number.POSITIVE_INFINITY,
    multi: Number.POSITIVE_INFINITY,
  };
  let gzipBytes = 0;
  let gzipCpu = Number.POSITIVE_INFINITY;
  let member!: Compressed;
  let multi!: Compressed;
  let memberRss = 0;
  // Interleaved rounds, best of each: the machine is shared and noisy.
  for (let r = 0; r < rounds; r++) {
    const g = await gzip6(log.path, out("gzip6"));
    best.gzip = Math.min(best.gzip, g.ms);
    gzipCpu = Math.min(gzipCpu, g.cpuMs);
    gzipBytes = g.bytes;
    const m = await compress(["member", log.path, out("member")]);
    if (m.ms < best.member) member = m;
    best.member = Math.min(best.member, m.ms);
    memberRss = Math.max(memberRss, m.rss);
    const f = await compress(["gzipfile", log.path, out("multi")]);
    if (f.ms < best.multi) multi = f;
    best.multi = Math.min(best.multi, f.ms);
  }
  rmSync(out("gzip6"));
  rmSync(out("multi"));
  const rate = (ms: number) => log.size / MiB / (ms / 1000);
  const ratio = (bytes: number) => `${(log.size / bytes).toFixed(2)}×`;
  const index = parseIndex(await Bun.file(`${out("member")}.idx`).text());

  // Ranged reads through s3rver (in this process: it competes for the same cores, as S3 would not).
  await using s3 = await startS3();
  const key = "bench/archive/2025/02/12/2025-02-12T10-56-45_big.jsonl.gz";
  await s3.putRaw(key, await Bun.file(out("member")).bytes());
  await s3.putRaw(`${key}.idx`, await Bun.file(`${out("member")}.idx`).bytes());
  const deep = Math.min(9_000_000, Math.floor(log.lines * 0.93));
  const reads = await runChild<ReadFigures>(
    "member-child.ts",
    [
      "read",
      log.path,
      out("member"),
      s3.endpoint,
      s3.bucket,
      key,
      String(log.lines),
      String(deep),
      o.quick ? "7" : "15",
    ],
    600_000,
  );
  rmSync(out("member"));

  // Step sets: what they save a step read on a log whose steps run one after another, and what they cost.
  const seqPath = join(o.dir, "member-seq.jsonl");
  const seqSize = sequentialSteps(log.path, seqPath, (o.quick ? 64 : 256) * MiB, 8);
  // One thread, alternated, least CPU of each: the cost of the step scan is a small difference.
  let withSteps!: Compressed;
  let without!: Compressed;
  for (let r = 0; r < (o.quick ? 2 : 3); r++) {
    const a = await compress(["member", seqPath, out("seq"), "0", "6", "1"]);
    if (withSteps === undefined || a.cpuMs < withSteps.cpuMs) withSteps = a;
    const b = await compress(["member", seqPath, out("seq-nosteps"), "0", "6", "0"]);
    if (without === undefined || b.cpuMs < without.cpuMs) without = b;
  }
  const seqIndex = parseIndex(await Bun.file(`${out("seq")}.idx`).text());
  const stepBytes = stepSpans(seqIndex, "s3").reduce((a, s) => a + s.end - s.start, 0);
  for (const f of [seqPath, out("seq"), `${out("seq")}.idx`, out("seq-nosteps"), `${out("seq-nosteps")}.idx`])
    rmSync(f, { force: true });

  const sizeRatio = member.bytes / gzipBytes;
  const speed = rate(best.member) / rate(best.gzip);
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  const readRow = (what: string, local: string, ranged: string) => {
    const x = reads.ms[ranged]! / reads.ms[local]!;
    const fetched = reads.bytes[ranged]!;
    return {
      figure: `${what} of an archived ${gb} GB log, ${ranged.endsWith("Disk") ? "ranges of the .gz on local disk" : `S3 Range GET${ranged.endsWith("Cold") ? " + index GET" : ""}`}`,
      value: `${fmt.ms(reads.ms[ranged]!)} ms, ${kb(fetched)} fetched`,
      baseline: `${fmt.ms(reads.ms[local]!)} ms (local file)`,
      ratio: fmt.ratio(x),
      target: "—",
      pass: null,
    };
  };
  return {
    rows: [
      {
        figure: `compress ${gb} GB into one gzip member (2 threads)`,
        value: `${fmt.int(rate(best.member))} MB/s, ${ratio(member.bytes)}, ${fmt.mb(memberRss)} MB RSS`,
        baseline: `${fmt.int(rate(best.gzip))} MB/s, ${ratio(gzipBytes)} (gzip -6)`,
        ratio: fmt.ratio(speed),
        target: "≥ 2×, size ≤ 1.05× gzip -6, RSS ≤ 256 MB",
        pass: speed >= 2 && sizeRatio <= 1.05 && memberRss <= 256 * MiB,
      },
      {
        figure: `compress ${gb} GB, multi-member gzipFile (today's archiver)`,
        value: `${fmt.int(rate(best.multi))} MB/s, ${ratio(multi.bytes)}, ${fmt.mb(multi.rss)} MB RSS`,
        baseline: `${fmt.int(rate(best.gzip))} MB/s, ${ratio(gzipBytes)} (gzip -6)`,
        ratio: fmt.ratio(rate(best.multi) / rate(best.gzip)),
        target: "—",
        pass: null,
      },
      readRow("last 100 lines", "tailLocal", "tailRanged"),
      readRow("last 100 lines", "tailLocal", "tailCold"),
      readRow("last 100 lines", "tailLocal", "tailDisk"),
      readRow(`100 lines from line ${fmt.int(deep)}`, "deepLocal", "deepRanged"),
      readRow(`100 lines from line ${fmt.int(deep)}`, "deepLocal", "deepCold"),
      readRow(`100 lines from line ${fmt.int(deep)}`, "deepLocal", "deepDisk"),
      {
        figure: `step read, 1 of 8 steps run in sequence (${fmt.mb(seqSize)} MB log)`,
        value: `${((100 * stepBytes) / withSteps.bytes).toFixed(1)}% of the archive fetched`,
        baseline: "100% (no step sets)",
        ratio: fmt.ratio(stepBytes / withSteps.bytes),
        target: "—",
        pass: null,
      },
    ],
    notes: [
      `archive-member: best of ${rounds} interleaved runs, each a child process writing the archive to a file ` +
        `in the same directory (page cache warm); RSS is the child's VmHWM. One member: ${index.blocks.length} ` +
        `blocks of ≤ ${kb(index.blockBytes)}, level ${index.level}, ${(100 * sizeRatio - 100).toFixed(1)}% vs ` +
        `gzip -6's size; sidecar index ${kb(member.indexBytes)} (${(member.indexBytes / index.blocks.length).toFixed(0)} ` +
        `B/block); CPU ${fmt.int(member.cpuMs)} ms vs gzip -6's ${fmt.int(gzipCpu)} ms ` +
        `(${fmt.ratio(gzipCpu / member.cpuMs)} less work per byte, whatever the load).`,
      `archive-member reads: a child process reads through @aws-sdk/client-s3 Range GETs from s3rver (in the ` +
        `bench process); median of ${o.quick ? 7 : 15} interleaved runs; "+ index GET" fetches and checks the ` +
        `${kb(member.indexBytes)} index on every read, the other keeps the parsed index; a bare 1-byte Range GET ` +
        `through the same client and server takes ${fmt.ms(reads.ms.floor!)} ms. Local baseline: the ` +
        `server's local read (checkpoint every 1,024 lines, 256 KiB reads, split, select). Reader peak RSS ` +
        `${fmt.mb(reads.rss)} MB. These rows show where a read's time goes, not the ≤ 5× target: their baseline ` +
        "has no HTTP on either side, and the bare GET alone is several times it. The target is measured end " +
        "to end, the same read through the server from the local file and from the archive (the archive figure).",
      `archive-member step sets: compressing the ${fmt.mb(seqSize)} MB log on one thread cost (least of ${o.quick ? 2 : 3}) ` +
        `${fmt.int(withSteps.cpuMs)} ms CPU with step sets, ${fmt.int(without.cpuMs)} ms without ` +
        `(${((100 * withSteps.cpuMs) / without.cpuMs - 100).toFixed(0)}%); index ${kb(withSteps.indexBytes)} vs ` +
        `${kb(without.indexBytes)}.`,
    ],
  };
}
