import { encodeBatch, encodeLine, type IncomingLine } from "../../src/core/line.ts";
import { createMasker, type Masker, NO_MASK } from "../../src/core/mask.ts";
import { secretForms } from "../../src/core/mask-forms.ts";
import { createLogStore } from "../../src/logs/store.ts";
import { createLineSplitter } from "../../src/shipper/lines.ts";
import { LINES, SECRETS } from "./mask-data.ts";

const mode = process.argv[2] as "server" | "shipper";
const durationMs = Number(process.argv[3] ?? 2000);
const dir = process.argv[4]!;

const avgChars = LINES.reduce((s, l) => s + l.length, 0) / LINES.length;

/**
 * Lines per CPU-second of each variant over LINES: rounds of ~50 ms, the variants interleaved (a busy machine
 * slows them alike), best round of each, after one warm-up round.
 */
function rates<K extends string>(variants: Record<K, (line: string) => unknown>): Record<K, number[]> {
  const keys = Object.keys(variants) as K[];
  const samples = Object.fromEntries(keys.map((k) => [k, []])) as unknown as Record<K, number[]>;
  // Each variant gets its own copy of the loop (compiled from source): one shared loop would call every variant
  // through one megamorphic call site, which costs more than the work measured and hides the differences.
  // CPU time of this process, not wall time: on a shared machine a round may be descheduled midway.
  const loop = `
    const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
    const t0 = cpuMs();
    let n = 0;
    while (cpuMs() - t0 < 50) {
      for (const l of lines) fn(l);
      n += lines.length;
    }
    return n / ((cpuMs() - t0) / 1000);`;
  const rounds = Object.fromEntries(
    keys.map((k) => [
      k,
      new Function("fn", "lines", loop) as (fn: (l: string) => unknown, lines: string[]) => number,
    ]),
  ) as Record<K, (fn: (l: string) => unknown, lines: string[]) => number>;
  const round = (k: K) => rounds[k](variants[k], LINES);
  for (const k of keys) round(k);
  const until = performance.now() + durationMs;
  while (performance.now() < until) for (const k of keys) samples[k].push(round(k));
  return samples;
}

const best = (xs: number[]) => Math.max(...xs);
/**
 * The median over rounds of with[i] / without[i]: a round of one variant and the same round of the other ran
 * a few milliseconds apart, so a load that comes and goes cancels out of each ratio.
 */
function pairedRatio(without: number[], withMask: number[]): number {
  const r = without.map((w, i) => withMask[i]! / w).sort((a, b) => a - b);
  return r[Math.floor(r.length / 2)]!;
}

const t0 = performance.now();
const masker = createMasker(SECRETS);
const buildMs = performance.now() - t0;
const forms = [...new Set(SECRETS.flatMap(secretForms))];
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const combined = new RegExp(forms.map(escapeRe).join("|"), "g");

const TS = "2025-02-12T10:56:45.123456789Z";
const STEP = JSON.stringify("build");
const encode = (m: Masker) => (line: string) => encodeLine(TS, "stdout", STEP, m.mask(line));

/** The shipper's path: lines → bytes → splitter (masking inside), as capture reads a pipe; per line of LINES. */
function splitter(m: Masker): (line: string) => unknown {
  const chunk = new TextEncoder().encode(`${LINES.join("\n")}\n`);
  const s = createLineSplitter(1024 * 1024, m);
  let i = 0;
  // Called once per line of LINES: one push of the whole chunk every LINES.length calls.
  return () => {
    if (i++ % LINES.length === 0) s.push(chunk);
  };
}

/**
 * The server's ingest path without HTTP and without the database commit (asynchronous since the repository
 * seam, and the same with or without masking): 500-line batches encoded and appended to a real file, each line
 * masked first (where the ingest hook will mask it, before truncation and encoding).
 */
const store = createLogStore({ dir, maxOpenFiles: 64, fsync: false });
const ends = new Map<string, number>();
let jobSeq = 0;
function ingest(m: Masker): (line: string) => unknown {
  let batch: IncomingLine[] = [];
  let job = `mask-${jobSeq++}`;
  let pushed = 0;
  return (line) => {
    batch.push({ ts: TS, stream: "stdout", line: m.mask(line) });
    if (batch.length < 500) return;
    const data = new TextEncoder().encode(encodeBatch(batch, "build", TS, 1024 * 1024).text);
    const end = ends.get(job) ?? 0;
    ends.set(job, store.append(job, data, end));
    batch = [];
    pushed += 500;
    // A fresh file every 200,000 lines, the old one removed: the scratch directory stays small.
    if (pushed % 200_000 === 0) {
      store.remove(job);
      job = `mask-${jobSeq++}`;
    }
  };
}

let leaked = 0;
for (const l of LINES) if (masker.mask(l) !== l) leaked++;

const samples =
  mode === "server"
    ? rates({
        mask0: (l) => NO_MASK.mask(l),
        mask100: (l) => masker.mask(l),
        regex100: (l) => l.replace(combined, "***"),
        encode0: encode(NO_MASK),
        encode100: encode(masker),
        ingest0: ingest(NO_MASK),
        ingest100: ingest(masker),
      })
    : rates({ split0: splitter(NO_MASK), split100: splitter(masker) });
const r = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, best(v as number[])])) as Partial<
  Record<RateName, number>
>;
const s = samples as Partial<Record<RateName, number[]>>;
const ratios: Partial<Record<"mask" | "encode" | "ingest" | "split", number>> =
  mode === "server"
    ? {
        mask: pairedRatio(s.regex100!, s.mask100!),
        encode: pairedRatio(s.encode0!, s.encode100!),
        ingest: pairedRatio(s.ingest0!, s.ingest100!),
      }
    : { split: pairedRatio(s.split0!, s.split100!) };
const result = {
  secrets: SECRETS.length,
  forms: masker.forms,
  lines: LINES.length,
  avgChars,
  maskedLines: leaked,
  buildMs,
  rounds: Math.min(...Object.values(samples).map((v) => (v as number[]).length)),
  ratios,
  ...r,
};
/** What one mode prints: the common figures, its best rates (lines per CPU-second) and paired ratios. */
export type Result = typeof result;
export type RateName =
  | "mask0"
  | "mask100"
  | "regex100"
  | "encode0"
  | "encode100"
  | "ingest0"
  | "ingest100"
  | "split0"
  | "split100";
console.log(JSON.stringify(result));
