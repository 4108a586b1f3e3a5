// Metrics around a job's end on the real server: hooks by outcome against a real receiver, and the retention
// sweeps over a real local archive (files, jobs and objects deleted, a deletion that fails).
import { describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pick, scrape } from "../support/metrics.ts";
import { makeLines, startTestServer, tempDir } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";

const DAY = 86_400_000;

describe("job-end metrics", () => {
  test("hooks are counted by outcome, with every POST and the time to their outcome", async () => {
    let posts = 0;
    using rx = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        posts++;
        return new Response(null, { status: new URL(req.url).pathname === "/ok" ? 204 : 500 });
      },
    });
    await using s = await startTestServer({
      hooks: [
        { url: `${rx.url}ok`, retries: 2, backoff: "10ms" },
        { url: `${rx.url}fail`, retries: 2, backoff: "10ms" },
      ],
    });
    let outcomes = 0;
    s.events.on("hook.delivered", () => void outcomes++);
    s.events.on("hook.failed", () => void outcomes++);
    await s.post("/worker/jobs/h/logs", { step_name: "b", lines: makeLines(1) });
    await s.post("/worker/jobs/h/complete", { status: "completed" });
    await untilEvent(s.events, ["hook.delivered", "hook.failed"], "both hooks", () => outcomes === 2);
    const m = await scrape(s);
    expect(
      pick(m, [
        'stroem_logs_hooks_total{outcome="delivered"}',
        'stroem_logs_hooks_total{outcome="failed"}',
        "stroem_logs_hook_attempts_total",
        'stroem_logs_hook_duration_seconds_count{outcome="delivered"}',
        'stroem_logs_hook_duration_seconds_count{outcome="failed"}',
        'stroem_logs_jobs_ended_total{status="completed"}',
        // The failure is noted in the job's log.
        "stroem_logs_server_events_total",
      ]),
    ).toEqual({
      'stroem_logs_hooks_total{outcome="delivered"}': 1,
      'stroem_logs_hooks_total{outcome="failed"}': 1,
      stroem_logs_hook_attempts_total: posts,
      'stroem_logs_hook_duration_seconds_count{outcome="delivered"}': 1,
      'stroem_logs_hook_duration_seconds_count{outcome="failed"}': 1,
      'stroem_logs_jobs_ended_total{status="completed"}': 1,
      stroem_logs_server_events_total: 1,
    });
    // One POST to the good hook, three (the first and two retries) to the failing one.
    expect(posts).toBe(4);
    // The failing hook waited 10 ms, then 20 ms, between its attempts.
    expect(m.get('stroem_logs_hook_duration_seconds_sum{outcome="failed"}')).toBeGreaterThanOrEqual(0.03);
  });

  test("retention: files, jobs and objects deleted by kind, sweeps with their time, and a deletion that fails", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
      retention: { local_days: 1, archive_days: 30 },
    });
    const sweeps = async () => (await scrape(s)).get("stroem_logs_retention_sweeps_total")!;
    // The start-up sweep first: a sweep asked for while it runs would join it (and its `now`).
    await untilEvent(s.events, "retention.swept", "the start-up sweep", async () => (await sweeps()) === 1);
    const keys: string[] = [];
    for (const id of ["r1", "r2"]) {
      await s.post(`/worker/jobs/${id}/logs`, { step_name: "b", lines: makeLines(5) });
      await s.post(`/worker/jobs/${id}/complete`, { status: "completed" });
      keys.push(
        await untilEvent(s.events, "archive.uploaded", `${id}'s archive`, async () => {
          const j = (await (await s.fetch(`/api/jobs/${id}`)).json()) as {
            archive: { state: string; key: string } | null;
          };
          return j.archive?.state === "uploaded" && j.archive.key;
        }),
      );
    }
    const free = await s.retention.sweep(Date.now() + 2 * DAY);
    // r2's object cannot be removed: a directory with something in it stands where its file was.
    rmSync(join(archive.path, keys[1]!));
    mkdirSync(join(archive.path, keys[1]!));
    writeFileSync(join(archive.path, keys[1]!, "x"), "x");
    const expire = await s.retention.sweep(Date.now() + 31 * DAY);
    const m = await scrape(s);
    expect([free.files_deleted, expire.rows_deleted, expire.objects_deleted, expire.errors]).toEqual([
      2, 2, 1, 1,
    ]);
    expect(
      pick(m, [
        'stroem_logs_retention_deleted_total{kind="file"}',
        'stroem_logs_retention_deleted_total{kind="job"}',
        'stroem_logs_retention_deleted_total{kind="object"}',
        "stroem_logs_retention_sweeps_total",
        "stroem_logs_retention_sweep_duration_seconds_count",
        "stroem_logs_retention_errors_total",
        "stroem_logs_retention_deferred_total",
      ]),
    ).toEqual({
      'stroem_logs_retention_deleted_total{kind="file"}': 2,
      'stroem_logs_retention_deleted_total{kind="job"}': 2,
      'stroem_logs_retention_deleted_total{kind="object"}': 1,
      stroem_logs_retention_sweeps_total: 3,
      stroem_logs_retention_sweep_duration_seconds_count: 3,
      stroem_logs_retention_errors_total: 1,
      stroem_logs_retention_deferred_total: 0,
    });
    const last = m.get("stroem_logs_retention_last_sweep_timestamp_seconds")!;
    expect(Math.abs(last - Date.now() / 1000) < 60).toBe(true);
  });
});
