// Ingest metrics on the real server: pushes by result with lines, bytes and latency, refusals by code,
// truncated, held and elided lines, capped jobs, server events, appends.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { EventMap } from "../../src/events.ts";
import { pick, scrape } from "../support/metrics.ts";
import { makeLines, parseJsonl, startTestServer } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";

const utf8 = (lines: Array<{ line: string }>) => lines.reduce((n, l) => n + Buffer.byteLength(l.line), 0);

describe("ingest metrics", () => {
  test("pushes are counted by result with their lines, bytes and latency; truncated lines are counted", async () => {
    await using s = await startTestServer({ limits: { max_line_bytes: 200 } });
    const three = makeLines(3, "é");
    const long = [{ ts: "2025-02-12T10:56:45.123Z", stream: "stdout", line: "x".repeat(500) }];
    expect(
      (await s.post("/worker/jobs/j/logs", { step_name: "b", lines: three }, { "idempotency-key": "k" }))
        .status,
    ).toBe(200);
    expect(
      (await s.post("/worker/jobs/j/logs", { step_name: "b", lines: three }, { "idempotency-key": "k" }))
        .status,
    ).toBe(200);
    const cut = await s.post("/worker/jobs/j/logs", { step_name: "b", lines: long });
    expect(((await cut.json()) as { truncated_lines: number }).truncated_lines).toBe(1);
    const m = await scrape(s);
    const file = Bun.file(join(s.dir, "j.jsonl"));
    expect(
      pick(m, [
        'stroem_logs_pushes_total{result="written"}',
        'stroem_logs_pushes_total{result="duplicate"}',
        'stroem_logs_pushes_total{result="held"}',
        'stroem_logs_pushes_total{result="refused"}',
        'stroem_logs_pushed_lines_total{result="written"}',
        'stroem_logs_pushed_lines_total{result="duplicate"}',
        'stroem_logs_pushed_bytes_total{result="written"}',
        'stroem_logs_pushed_bytes_total{result="duplicate"}',
        'stroem_logs_push_duration_seconds_count{result="written"}',
        'stroem_logs_push_duration_seconds_bucket{result="written",le="+Inf"}',
        'stroem_logs_push_duration_seconds_count{result="duplicate"}',
        "stroem_logs_truncated_lines_total",
        "stroem_logs_appended_lines_total",
        "stroem_logs_appended_bytes_total",
      ]),
    ).toEqual({
      'stroem_logs_pushes_total{result="written"}': 2,
      'stroem_logs_pushes_total{result="duplicate"}': 1,
      'stroem_logs_pushes_total{result="held"}': 0,
      'stroem_logs_pushes_total{result="refused"}': 0,
      'stroem_logs_pushed_lines_total{result="written"}': 4,
      'stroem_logs_pushed_lines_total{result="duplicate"}': 3,
      'stroem_logs_pushed_bytes_total{result="written"}': utf8(three) + 500,
      'stroem_logs_pushed_bytes_total{result="duplicate"}': utf8(three),
      'stroem_logs_push_duration_seconds_count{result="written"}': 2,
      'stroem_logs_push_duration_seconds_bucket{result="written",le="+Inf"}': 2,
      'stroem_logs_push_duration_seconds_count{result="duplicate"}': 1,
      stroem_logs_truncated_lines_total: 1,
      stroem_logs_appended_lines_total: 4,
      stroem_logs_appended_bytes_total: file.size,
    });
    const sum = m.get('stroem_logs_push_duration_seconds_sum{result="written"}')!;
    expect(sum > 0 && sum < 60).toBe(true);
  });

  test("a runaway job: held lines and the capped job, the lines elided at its end, a late push refused by code", async () => {
    await using s = await startTestServer({ limits: { max_job_bytes: 20_000 } });
    let held = 0;
    for (let b = 0; b < 100; b++) {
      const r = await s.post("/worker/jobs/j/logs", {
        step_name: "s",
        lines: makeLines(10, "l", "stdout", b * 10),
      });
      held += ((await r.json()) as { held_lines?: number }).held_lines ?? 0;
    }
    expect(held).toBeGreaterThan(0);
    const running = await scrape(s);
    expect(
      pick(running, [
        "stroem_logs_held_lines_total",
        "stroem_logs_capped_jobs_total",
        'stroem_logs_pushes_total{result="held"}',
      ]),
    ).toEqual({
      stroem_logs_held_lines_total: held,
      stroem_logs_capped_jobs_total: 1,
      // Every batch past the head limit is held in part or whole.
      'stroem_logs_pushes_total{result="held"}': running.get('stroem_logs_pushes_total{result="held"}')!,
    });
    expect(
      running.get('stroem_logs_pushes_total{result="held"}')! +
        running.get('stroem_logs_pushes_total{result="written"}')!,
    ).toBe(100);

    const released: Array<EventMap["cap.released"]> = [];
    s.events.on("cap.released", (e) => void released.push(e));
    await s.post("/worker/jobs/j/complete", { status: "failed" });
    await untilEvent(s.events, "settled", "the job to settle", () => released.length === 1);
    const late = await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(200, "late") });
    expect([late.status, ((await late.json()) as { code: string }).code]).toEqual([413, "job_too_large"]);

    const m = await scrape(s);
    const log = parseJsonl(((await (await s.fetch("/api/jobs/j/logs")).json()) as { logs: string }).logs);
    expect(released[0]!.elided_lines).toBeGreaterThan(0);
    expect(
      pick(m, [
        "stroem_logs_elided_lines_total",
        "stroem_logs_elided_bytes_total",
        "stroem_logs_server_events_total",
        'stroem_logs_pushes_total{result="refused"}',
        'stroem_logs_pushed_lines_total{result="refused"}',
        'stroem_logs_push_refusals_total{code="job_too_large"}',
        'stroem_logs_push_duration_seconds_count{result="refused"}',
        'stroem_logs_jobs_ended_total{status="failed"}',
        "stroem_logs_appended_lines_total",
      ]),
    ).toEqual({
      stroem_logs_elided_lines_total: released[0]!.elided_lines,
      stroem_logs_elided_bytes_total: released[0]!.elided_bytes,
      // The cap's two notes: the window started, and what it elided at the end.
      stroem_logs_server_events_total: log.filter((l) => l.step === "_server").length,
      'stroem_logs_pushes_total{result="refused"}': 1,
      'stroem_logs_pushed_lines_total{result="refused"}': 200,
      'stroem_logs_push_refusals_total{code="job_too_large"}': 1,
      'stroem_logs_push_duration_seconds_count{result="refused"}': 1,
      'stroem_logs_jobs_ended_total{status="failed"}': 1,
      stroem_logs_appended_lines_total: log.length,
    });
  });

  test("a push refused before it reaches its job is counted by route and code, not as a push", async () => {
    await using s = await startTestServer({ auth: { worker_token: "w" } });
    const auth = { authorization: "Bearer w" };
    const answers = [
      await s.post("/worker/jobs/j/logs", { step_name: "b", lines: makeLines(1) }),
      await s.post("/worker/jobs/j/logs", "{", auth),
      await s.post("/worker/jobs/j/logs", { lines: makeLines(1) }, auth),
      await s.post("/worker/jobs/j/logs", { step_name: "b", lines: makeLines(1) }, auth),
      await s.fetch("/nowhere", { headers: auth }),
    ];
    const codes = await Promise.all(
      answers.map(async (r) => (r.status >= 400 ? ((await r.json()) as { code: string }).code : r.status)),
    );
    expect(codes).toEqual(["unauthorized", "invalid_json", "invalid_body", 200, "no_route"]);
    const m = await scrape(s, "w");
    const route = (code: string) =>
      `stroem_logs_http_errors_total{method="POST",route="/worker/jobs/:id/logs",code="${code}"}`;
    expect(
      pick(m, [
        route("unauthorized"),
        route("invalid_json"),
        route("invalid_body"),
        'stroem_logs_http_errors_total{method="GET",route="unmatched",code="no_route"}',
        'stroem_logs_pushes_total{result="written"}',
        'stroem_logs_pushes_total{result="refused"}',
      ]),
    ).toEqual({
      [route("unauthorized")]: 1,
      [route("invalid_json")]: 1,
      [route("invalid_body")]: 1,
      'stroem_logs_http_errors_total{method="GET",route="unmatched",code="no_route"}': 1,
      'stroem_logs_pushes_total{result="written"}': 1,
      'stroem_logs_pushes_total{result="refused"}': 0,
    });
  });
});
