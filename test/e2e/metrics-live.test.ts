// Live-stream metrics on the real server, with real WebSocket viewers: viewers and jobs watched, frames
// caught up and live with their bytes, viewers reaching the live edge, closes by reason.
import { describe, expect, test } from "bun:test";
import { pick, scrape } from "../support/metrics.ts";
import { makeLines, startTestServer } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";
import { watch } from "../support/ws.ts";

const bytes = (frames: string[]) => frames.reduce((n, f) => n + Buffer.byteLength(f), 0);

describe("live-stream metrics", () => {
  test("frames are counted as caught up or live, viewers while open, and closes by reason", async () => {
    await using s = await startTestServer();
    let live = 0;
    let closed = 0;
    s.events.on("stream.live", () => void live++);
    s.events.on("stream.closed", () => void closed++);
    await s.post("/worker/jobs/j/logs", { step_name: "b", lines: makeLines(5, "é") });
    using a = watch(s.url, "j");
    await a.waitLines(5);
    await untilEvent(s.events, "stream.live", "viewer a to reach the live edge", () => live === 1);
    const backfill = a.frames.length;
    await s.post("/worker/jobs/j/logs", { step_name: "b", lines: makeLines(2, "ø", "stderr", 5) });
    await a.waitLines(7);
    using b = watch(s.url, "j");
    await b.waitLines(7);
    await untilEvent(s.events, "stream.live", "viewer b to reach the live edge", () => live === 2);
    const open = await scrape(s);
    b.ws.close();
    await untilEvent(s.events, "stream.closed", "viewer b's close", () => closed === 1);
    const one = await scrape(s);
    await s.post("/worker/jobs/j/complete", { status: "completed" });
    expect((await a.closed).code).toBe(1000);
    await untilEvent(s.events, "stream.closed", "viewer a's close", () => closed === 2);
    const done = await scrape(s);

    const gauges = ["stroem_logs_live_viewers", "stroem_logs_live_jobs"];
    expect([pick(open, gauges), pick(one, gauges), pick(done, gauges)]).toEqual([
      { stroem_logs_live_viewers: 2, stroem_logs_live_jobs: 1 },
      { stroem_logs_live_viewers: 1, stroem_logs_live_jobs: 1 },
      { stroem_logs_live_viewers: 0, stroem_logs_live_jobs: 0 },
    ]);
    const liveFrames = a.frames.slice(backfill);
    const caughtUp = [...a.frames.slice(0, backfill), ...b.frames];
    expect(
      pick(done, [
        'stroem_logs_live_frames_total{mode="live"}',
        'stroem_logs_live_frames_total{mode="catch-up"}',
        'stroem_logs_live_frame_bytes_total{mode="live"}',
        'stroem_logs_live_frame_bytes_total{mode="catch-up"}',
        "stroem_logs_live_caught_up_total",
        "stroem_logs_live_streams_opened_total",
        'stroem_logs_live_streams_closed_total{reason="client"}',
        'stroem_logs_live_streams_closed_total{reason="end"}',
        'stroem_logs_live_streams_closed_total{reason="over_budget"}',
      ]),
    ).toEqual({
      'stroem_logs_live_frames_total{mode="live"}': liveFrames.length,
      'stroem_logs_live_frames_total{mode="catch-up"}': caughtUp.length,
      'stroem_logs_live_frame_bytes_total{mode="live"}': bytes(liveFrames),
      'stroem_logs_live_frame_bytes_total{mode="catch-up"}': bytes(caughtUp),
      stroem_logs_live_caught_up_total: 2,
      stroem_logs_live_streams_opened_total: 2,
      'stroem_logs_live_streams_closed_total{reason="client"}': 1,
      'stroem_logs_live_streams_closed_total{reason="end"}': 1,
      'stroem_logs_live_streams_closed_total{reason="over_budget"}': 0,
    });
    // The two lines pushed while a watched went to it as they committed.
    expect(liveFrames.length).toBeGreaterThanOrEqual(1);
  });
});
