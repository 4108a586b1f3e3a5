// Metrics held in memory: counters, gauges and histograms with labels, checked against Prometheus naming rules.
import { type Family, formatValue, type Sample, writeFamilies } from "./exposition.ts";

export type LabelValues<L extends string> = { readonly [K in L]: string | number };

export interface CounterSeries {
  inc(by?: number): void;
  get(): number;
}

export interface GaugeSeries {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
  get(): number;
}

export interface HistogramSeries {
  observe(value: number): void;
}

/** A metric: `labels(values)` picks (and remembers) one series; an unlabelled metric is its own series. */
export type Metric<L extends string, S> = S & { labels(values: LabelValues<L>): S };

interface Common<L extends string> {
  name: string;
  help: string;
  labels?: readonly L[];
}

export interface CounterOptions<L extends string> extends Common<L> {
  /** The total read at each scrape (a count kept elsewhere, e.g. the CPU seconds the kernel reports). */
  value?: () => number;
}

export interface GaugeOptions<L extends string> extends Common<L> {
  /** Called before each scrape to set the current values (`g.set(...)`, `g.labels(...).set(...)`). */
  collect?: (g: Metric<L, GaugeSeries>) => void;
}

export interface HistogramOptions<L extends string> extends Common<L> {
  /** Upper bounds, ascending; `+Inf` is implied. */
  buckets: readonly number[];
}

export interface Registry {
  counter<L extends string = never>(opts: CounterOptions<L>): Metric<L, CounterSeries>;
  gauge<L extends string = never>(opts: GaugeOptions<L>): Metric<L, GaugeSeries>;
  histogram<L extends string = never>(opts: HistogramOptions<L>): Metric<L, HistogramSeries>;
  /** The Prometheus text exposition (format 0.0.4) of every metric. */
  expose(): string;
}

/** Seconds, for request latencies: 1 ms to 10 s. */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Seconds, for work that may take minutes (an archive upload, a retention sweep, a hook with retries): 5 ms to 10 min. */
export const SLOW_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
] as const;

const NAME = /^[a-z_:][a-z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// What promtool's lint (client_golang promlint) flags, by word of the name: units with a prefix, abbreviated
// units, the metric type in the name. Minutes, hours and days are not base units either.
const PREFIXED_UNIT =
  /^(pico|nano|micro|milli|centi|deci|deca|hecto|kilo|kibi|mega|mebi|giga|gibi|tera|tebi|peta|pebi)(amperes|bytes|hertz|joules|kelvin|meters|metres|seconds|volts)$/;
const ABBREVIATION = new Set([
  "s",
  "ms",
  "us",
  "ns",
  "sec",
  "b",
  "kb",
  "mb",
  "gb",
  "tb",
  "pb",
  "m",
  "h",
  "d",
]);
const TIME_WORDS = new Set(["minutes", "hours", "days"]);

/** A programmer error (a bad name, a duplicate): thrown at registration, not at scrape. */
function checkNames(kind: Family["type"], name: string, labels: readonly string[], taken: Set<string>): void {
  const fail = (why: string) => {
    throw new Error(`metric ${name}: ${why}`);
  };
  if (!NAME.test(name)) fail("names are snake_case: [a-z_:][a-z0-9_:]*");
  if (taken.has(name)) fail("registered twice");
  if (kind === "counter" && !name.endsWith("_total")) fail("a counter's name ends in _total");
  if (kind !== "counter" && name.endsWith("_total")) fail("only counters end in _total");
  if (/_(count|sum|bucket)$/.test(name)) fail("_count, _sum and _bucket are a histogram's own series");
  const words = name.split(/[_:]/);
  for (const [i, word] of words.entries()) {
    // promtool looks for `_ms_` or a `_ms` ending, so a first word is never an abbreviation.
    if (PREFIXED_UNIT.test(word) || (i > 0 && ABBREVIATION.has(word)) || TIME_WORDS.has(word)) {
      fail(`use base units, spelt out (seconds, bytes), not ${word}`);
    }
    if (word === kind || word === "counter" || word === "gauge")
      fail(`the type does not go in the name (${word})`);
  }
  const seen = new Set<string>();
  for (const l of labels) {
    if (!LABEL.test(l) || l.startsWith("__"))
      fail(`label ${l}: [a-zA-Z_][a-zA-Z0-9_]*, not starting with __`);
    if (kind === "histogram" && l === "le") fail("le is the histogram's bucket label");
    if (seen.has(l)) fail(`label ${l} listed twice`);
    seen.add(l);
  }
}

/**
 * Series of one metric keyed by their label values; `labels()` returns the same object for the same values,
 * so a hot path keeps it and pays one add per event.
 */
function seriesMap<L extends string, S>(labelNames: readonly L[], make: () => S) {
  const map = new Map<string, { labels: Record<string, string>; series: S }>();
  const pick = (values: LabelValues<L>): S => {
    const parts = labelNames.map((l) => String(values[l]));
    const key = parts.join("\u0000");
    let entry = map.get(key);
    if (entry === undefined) {
      entry = { labels: Object.fromEntries(labelNames.map((l, i) => [l, parts[i]!])), series: make() };
      map.set(key, entry);
    }
    return entry.series;
  };
  return { map, pick };
}

export function createRegistry(
  opts: { onCollectError?: (name: string, err: unknown) => void } = {},
): Registry {
  const taken = new Set<string>();
  const families: Array<{ name: string; collect: () => Family }> = [];

  function register<L extends string, S extends object>(
    kind: Family["type"],
    common: Common<L>,
    make: () => S,
    samples: (series: S, labels: Record<string, string>) => Sample[],
    before?: (metric: Metric<L, S>) => void,
  ): Metric<L, S> {
    const labelNames = common.labels ?? [];
    checkNames(kind, common.name, labelNames, taken);
    if (common.help.trim() === "") throw new Error(`metric ${common.name}: help text is required`);
    taken.add(common.name);
    const { map, pick } = seriesMap(labelNames, make);
    // The unlabelled series exists from the start, so a counter reads 0 before its first event.
    const own = labelNames.length === 0 ? pick({} as LabelValues<L>) : null;
    // The series' methods are closures over its state, so copying them onto the metric keeps one state.
    const metric = Object.assign({}, own, { labels: (values: LabelValues<L>) => pick(values) }) as Metric<
      L,
      S
    >;
    families.push({
      name: common.name,
      collect: () => {
        before?.(metric);
        const out: Sample[] = [];
        for (const { labels, series } of map.values()) out.push(...samples(series, labels));
        return { name: common.name, help: common.help, type: kind, samples: out };
      },
    });
    return metric;
  }

  return {
    counter<L extends string = never>(o: CounterOptions<L>) {
      return register<L, CounterSeries>(
        "counter",
        o,
        () => {
          let n = 0;
          return {
            inc(by = 1) {
              if (!(by >= 0)) throw new Error(`counter ${o.name}: cannot add ${by}`);
              n += by;
            },
            get: () => (o.value ? o.value() : n),
          };
        },
        (s, labels) => [{ suffix: "", labels, value: s.get() }],
      );
    },

    gauge<L extends string = never>(o: GaugeOptions<L>) {
      return register<L, GaugeSeries>(
        "gauge",
        o,
        () => {
          let n = 0;
          return {
            set(v) {
              n = v;
            },
            inc(by = 1) {
              n += by;
            },
            dec(by = 1) {
              n -= by;
            },
            get: () => n,
          };
        },
        (s, labels) => [{ suffix: "", labels, value: s.get() }],
        o.collect,
      );
    },

    histogram<L extends string = never>(o: HistogramOptions<L>) {
      const bounds = [...o.buckets];
      if (
        bounds.length === 0 ||
        bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]!))
      ) {
        throw new Error(`histogram ${o.name}: buckets must be finite and strictly ascending`);
      }
      const state = new WeakMap<HistogramSeries, { counts: Float64Array; sum: number; count: number }>();
      return register<L, HistogramSeries>(
        "histogram",
        o,
        () => {
          const st = { counts: new Float64Array(bounds.length), sum: 0, count: 0 };
          const series: HistogramSeries = {
            observe(v) {
              // Non-cumulative here; cumulated at scrape. A NaN lands in +Inf only, as Prometheus clients do.
              for (let i = 0; i < bounds.length; i++) {
                if (v <= bounds[i]!) {
                  st.counts[i]!++;
                  break;
                }
              }
              st.sum += v;
              st.count++;
            },
          };
          state.set(series, st);
          return series;
        },
        (s, labels) => {
          const st = state.get(s)!;
          const out: Sample[] = [];
          let cumulative = 0;
          for (let i = 0; i < bounds.length; i++) {
            cumulative += st.counts[i]!;
            out.push({
              suffix: "_bucket",
              labels: { ...labels, le: formatValue(bounds[i]!) },
              value: cumulative,
            });
          }
          out.push({ suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: st.count });
          out.push({ suffix: "_sum", labels, value: st.sum });
          out.push({ suffix: "_count", labels, value: st.count });
          return out;
        },
      );
    },

    expose() {
      const collected: Family[] = [];
      for (const family of families) {
        try {
          collected.push(family.collect());
        } catch (e) {
          // One broken collector must not blank the whole scrape; the caller logs it.
          opts.onCollectError?.(family.name, e);
        }
      }
      return writeFamilies(collected);
    },
  };
}
