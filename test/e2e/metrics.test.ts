// GET /metrics on the real server: valid for promtool, values that move with what happens, behind a token.
import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promtool } from "../support/promtool.ts";
import { makeLines, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import { watch } from "../support/ws.ts";

/** `name{labels}` → value, for every sample line of an exposition. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(s: TestServer, token?: string): Promise<Map<string, number>> {
  const r = await s.fetch("/metrics", token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(r.status).toBe(200);
  return samples(await r.text());
}

const PUSH = 'stroem_logs_http_requests_total{method="POST",route="/worker/jobs/:id/logs",status="200"}';

describe("metrics", () => {
  test("the exposition passes promtool check metrics, with HELP and TYPE for each metric", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "build", lines: makeLines(3) });
    await s.fetch("/api/jobs/j/logs");
    await s.fetch("/no/such/route");
    await s.fetch("/api/jobs/bad%20id/logs");
    using viewer = watch(s.url, "j");
    await viewer.waitLines(3);
    const r = await s.fetch("/metrics");
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await r.text();
    expect(await promtool(["check", "metrics"], text)).toEqual({ code: 0, stdout: "", stderr: "" });
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(types).toEqual(
      expect.arrayContaining([
        "process_cpu_seconds_total counter",
        "process_resident_memory_bytes gauge",
        "process_open_fds gauge",
        "process_start_time_seconds gauge",
        "stroem_logs_event_loop_delay_seconds histogram",
        "stroem_logs_http_requests_total counter",
        "stroem_logs_http_request_duration_seconds histogram",
        "stroem_logs_appended_lines_total counter",
        "stroem_logs_live_viewers gauge",
      ]),
    );
    expect(text.match(/^# HELP /gm)?.length).toBe(types.length);
  });

  test("counters move as requests come: pushes, lines, bytes, routes by status, jobs ended", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "build", lines: makeLines(3) });
    const before = await scrape(s);
    await s.post("/worker/jobs/j/logs", { step_name: "build", lines: makeLines(2) });
    await s.fetch("/api/jobs/nope/logs/download");
    await s.fetch("/nowhere");
    await s.post("/worker/jobs/j/complete", { status: "completed" });
    const after = await scrape(s);
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    const { size } = Bun.file(join(s.dir, "j.jsonl"));
    expect({
      pushes: delta(PUSH),
      lines: delta("stroem_logs_appended_lines_total"),
      bytes: after.get("stroem_logs_appended_bytes_total"),
      notFound: delta(
        'stroem_logs_http_requests_total{method="GET",route="/api/jobs/:id/logs/download",status="404"}',
      ),
      unmatched: delta('stroem_logs_http_requests_total{method="GET",route="unmatched",status="404"}'),
      pushTimings: delta(
        'stroem_logs_http_request_duration_seconds_count{method="POST",route="/worker/jobs/:id/logs"}',
      ),
      ended: after.get('stroem_logs_jobs_ended_total{status="completed"}'),
      // The first scrape is counted once it is answered, so the second sees it.
      scrapes: after.get('stroem_logs_http_requests_total{method="GET",route="/metrics",status="200"}'),
    }).toEqual({
      pushes: 1,
      lines: 2,
      bytes: await size,
      notFound: 1,
      unmatched: 1,
      pushTimings: 1,
      ended: 1,
      scrapes: 1,
    });
  });

  test("a live viewer is counted while it is connected", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "build", lines: makeLines(1) });
    const viewer = watch(s.url, "j");
    await viewer.waitLines(1);
    const open = await scrape(s);
    expect([open.get("stroem_logs_live_viewers"), open.get("stroem_logs_live_jobs")]).toEqual([1, 1]);
    expect(
      open.get(
        'stroem_logs_http_requests_total{method="GET",route="/api/jobs/:id/logs/stream",status="101"}',
      ),
    ).toBe(1);
    viewer.ws.close();
    await viewer.closed;
    await waitFor(
      "the viewer to be gone from the metrics",
      async () => (await scrape(s)).get("stroem_logs_live_viewers") === 0,
    );
  });

  test("process figures read what the kernel reports for this process", async () => {
    await using s = await startTestServer();
    const m = await scrape(s);
    const fds = readdirSync("/proc/self/fd").length - 1;
    const rss = process.memoryUsage().rss;
    const start = Date.now() / 1000 - process.uptime();
    expect({
      fds: Math.abs(m.get("process_open_fds")! - fds) <= 5,
      rss: Math.abs(m.get("process_resident_memory_bytes")! - rss) < rss * 0.5,
      start: Math.abs(m.get("process_start_time_seconds")! - start) < 2,
      cpu: m.get("process_cpu_seconds_total")! > 0,
      maxFds: m.get("process_max_fds")! >= m.get("process_open_fds")!,
    }).toEqual({ fds: true, rss: true, start: true, cpu: true, maxFds: true });
  });

  test("an event loop blocked for 600 ms shows in the delay histogram", async () => {
    await using s = await startTestServer();
    const before = await scrape(s);
    const sum = (m: Map<string, number>) => m.get("stroem_logs_event_loop_delay_seconds_sum") ?? 0;
    // The server runs in this process: blocking this thread blocks its event loop.
    const end = performance.now() + 600;
    while (performance.now() < end) {}
    const after = await waitFor("a delayed probe", async () => {
      const m = await scrape(s);
      return sum(m) - sum(before) >= 0.4 ? m : false;
    });
    const slow = (m: Map<string, number>) =>
      m.get("stroem_logs_event_loop_delay_seconds_count")! -
      m.get('stroem_logs_event_loop_delay_seconds_bucket{le="0.25"}')!;
    expect(slow(after) - slow(before)).toBeGreaterThanOrEqual(1);
  });

  test("GET /metrics takes the metrics token or a read token; the metrics token opens nothing else", async () => {
    await using s = await startTestServer({
      auth: { worker_token: "w-token", read_tokens: ["r-token"], metrics_token: "m-token" },
    });
    const status = async (path: string, token?: string) =>
      (await s.fetch(path, token ? { headers: { authorization: `Bearer ${token}` } } : {})).status;
    const none = await s.fetch("/metrics");
    expect([none.status, await none.json()]).toEqual([
      401,
      { error: "a metrics token is required: send Authorization: Bearer <token>", code: "unauthorized" },
    ]);
    expect([
      await status("/metrics", "m-token"),
      await status("/metrics", "r-token"),
      await status("/metrics", "w-token"),
      await status("/metrics", "wrong"),
      await status("/api/jobs", "m-token"),
      await status("/api/stats", "m-token"),
    ]).toEqual([200, 200, 200, 403, 403, 403]);
  });

  test("the metrics token can come from a file; without a worker token it is refused at start", async () => {
    using dir = tempDir();
    const file = join(dir.path, "metrics-token");
    writeFileSync(file, "from-file\n", { mode: 0o600 });
    await using s = await startTestServer({ auth: { worker_token: "w", metrics_token_file: file } });
    expect((await s.fetch("/metrics", { headers: { authorization: "Bearer from-file" } })).status).toBe(200);
    await expect(startTestServer({ auth: { metrics_token: "m" } })).rejects.toThrow(
      "auth.worker_token: required when a metrics token is set (auth is off without it)",
    );
  });
});
