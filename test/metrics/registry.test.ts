import { describe, expect, test } from "bun:test";
import { escapeHelp, escapeLabelValue, formatValue } from "../../src/metrics/exposition.ts";
import { createRegistry } from "../../src/metrics/registry.ts";

describe("metrics registry", () => {
  test("counters, gauges and histograms are exposed with HELP, TYPE and their series", () => {
    const r = createRegistry();
    const pushes = r.counter({ name: "app_pushes_total", help: "Pushes.", labels: ["result"] });
    const lines = r.counter({ name: "app_lines_total", help: "Lines." });
    const viewers = r.gauge({ name: "app_viewers", help: "Viewers." });
    const latency = r.histogram({ name: "app_push_seconds", help: "Push latency.", buckets: [0.1, 1] });
    pushes.labels({ result: "ok" }).inc();
    pushes.labels({ result: "ok" }).inc(2);
    pushes.labels({ result: "refused" }).inc();
    lines.inc(5);
    viewers.set(3);
    viewers.dec();
    for (const v of [0.05, 0.1, 0.5, 7]) latency.observe(v);
    expect(r.expose()).toBe(
      [
        "# HELP app_pushes_total Pushes.",
        "# TYPE app_pushes_total counter",
        'app_pushes_total{result="ok"} 3',
        'app_pushes_total{result="refused"} 1',
        "# HELP app_lines_total Lines.",
        "# TYPE app_lines_total counter",
        "app_lines_total 5",
        "# HELP app_viewers Viewers.",
        "# TYPE app_viewers gauge",
        "app_viewers 2",
        "# HELP app_push_seconds Push latency.",
        "# TYPE app_push_seconds histogram",
        'app_push_seconds_bucket{le="0.1"} 2',
        'app_push_seconds_bucket{le="1"} 3',
        'app_push_seconds_bucket{le="+Inf"} 4',
        "app_push_seconds_sum 7.65",
        "app_push_seconds_count 4",
        "",
      ].join("\n"),
    );
  });

  test("a labelled histogram puts le after its own labels; buckets are cumulative", () => {
    const r = createRegistry();
    const h = r.histogram({ name: "x_seconds", help: "X.", labels: ["route"], buckets: [1, 2] });
    h.labels({ route: "/a" }).observe(1.5);
    expect(r.expose().split("\n").slice(2, 7)).toEqual([
      'x_seconds_bucket{route="/a",le="1"} 0',
      'x_seconds_bucket{route="/a",le="2"} 1',
      'x_seconds_bucket{route="/a",le="+Inf"} 1',
      'x_seconds_sum{route="/a"} 1.5',
      'x_seconds_count{route="/a"} 1',
    ]);
  });

  test("label values and help text are escaped as the format requires", () => {
    const r = createRegistry();
    r.counter({ name: "e_total", help: 'a \\ back\nslash "q"', labels: ["v"] })
      .labels({ v: 'say "hi"\\\n' })
      .inc();
    expect(r.expose()).toBe(
      '# HELP e_total a \\\\ back\\nslash "q"\n# TYPE e_total counter\ne_total{v="say \\"hi\\"\\\\\\n"} 1\n',
    );
    expect([escapeHelp("a\\b\nc"), escapeLabelValue('"\\\n')]).toEqual(["a\\\\b\\nc", '\\"\\\\\\n']);
  });

  test("special values are spelt +Inf, -Inf and NaN", () => {
    expect([Infinity, -Infinity, Number.NaN, 0.5, 12, 1e-7].map(formatValue)).toEqual([
      "+Inf",
      "-Inf",
      "NaN",
      "0.5",
      "12",
      "1e-7",
    ]);
  });

  test("the same label values give the same series; value() and collect() run at each scrape", () => {
    const r = createRegistry();
    const c = r.counter({ name: "s_total", help: "S.", labels: ["a"] });
    expect(c.labels({ a: "x" })).toBe(c.labels({ a: "x" }));
    let n = 1;
    r.counter({ name: "cpu_seconds_total", help: "CPU.", value: () => n });
    r.gauge({ name: "g", help: "G.", labels: ["k"], collect: (g) => g.labels({ k: "v" }).set(n * 10) });
    n = 2;
    expect(r.expose()).toContain("cpu_seconds_total 2\n");
    expect(r.expose()).toContain('g{k="v"} 20\n');
  });

  test("names that break Prometheus conventions are refused at registration", () => {
    const r = createRegistry();
    const refusal = (f: () => unknown) => {
      try {
        f();
        return "accepted";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect([
      refusal(() => r.counter({ name: "pushes", help: "h" })),
      refusal(() => r.gauge({ name: "viewers_total", help: "h" })),
      refusal(() => r.histogram({ name: "push_latency_milliseconds", help: "h", buckets: [1] })),
      refusal(() => r.gauge({ name: "size_kb", help: "h" })),
      refusal(() => r.gauge({ name: "CamelCase", help: "h" })),
      refusal(() => r.gauge({ name: "queue_gauge", help: "h" })),
      refusal(() => r.gauge({ name: "wait_minutes", help: "h" })),
      refusal(() => r.gauge({ name: "queue_count", help: "h" })),
      refusal(() => r.gauge({ name: "no_help", help: " " })),
      refusal(() => r.histogram({ name: "hist_seconds", help: "h", labels: ["le"], buckets: [1] })),
      refusal(() => r.histogram({ name: "h2_seconds", help: "h", buckets: [2, 1] })),
      refusal(() => r.counter({ name: "ok_total", help: "h", labels: ["__reserved"] })),
      refusal(() => r.gauge({ name: "dup", help: "h" })),
      refusal(() => r.gauge({ name: "dup", help: "h" })),
    ]).toEqual([
      "metric pushes: a counter's name ends in _total",
      "metric viewers_total: only counters end in _total",
      "metric push_latency_milliseconds: use base units, spelt out (seconds, bytes), not milliseconds",
      "metric size_kb: use base units, spelt out (seconds, bytes), not kb",
      "metric CamelCase: names are snake_case: [a-z_:][a-z0-9_:]*",
      "metric queue_gauge: the type does not go in the name (gauge)",
      "metric wait_minutes: use base units, spelt out (seconds, bytes), not minutes",
      "metric queue_count: _count, _sum and _bucket are a histogram's own series",
      "metric no_help: help text is required",
      "metric hist_seconds: le is the histogram's bucket label",
      "histogram h2_seconds: buckets must be finite and strictly ascending",
      "metric ok_total: label __reserved: [a-zA-Z_][a-zA-Z0-9_]*, not starting with __",
      "accepted",
      "metric dup: registered twice",
    ]);
  });

  test("a collector that throws leaves the other metrics in the scrape and is reported", () => {
    const errors: string[] = [];
    const r = createRegistry({
      onCollectError: (name, e) => errors.push(`${name}: ${(e as Error).message}`),
    });
    r.gauge({
      name: "broken",
      help: "B.",
      collect: () => {
        throw new Error("no /proc");
      },
    });
    r.counter({ name: "fine_total", help: "F." }).inc();
    expect([r.expose(), errors]).toEqual([
      "# HELP fine_total F.\n# TYPE fine_total counter\nfine_total 1\n",
      ["broken: no /proc"],
    ]);
  });

  test("a counter refuses to go down", () => {
    const c = createRegistry().counter({ name: "d_total", help: "D." });
    expect(() => c.inc(-1)).toThrow("counter d_total: cannot add -1");
  });
});
