// Fan-out: many real WebSocket viewers of one job, joining before and during the run, each get the whole log once.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { makeLines, startTestServer } from "../support/server.ts";
import { DEADLINE_MS } from "../support/wait.ts";
import { type StreamViewer, watch, within } from "../support/ws.ts";

test("500 concurrent viewers of one job each receive the full log exactly once", async () => {
  await using s = await startTestServer();
  const push = async (start: number, n: number) => {
    const res = await s.post("/worker/jobs/fan/logs", {
      step_name: "build",
      lines: makeLines(n, "l", "stdout", start),
    });
    expect(res.status).toBe(200);
  };
  await push(0, 200); // backfill for everyone
  const viewers: StreamViewer[] = [];
  for (let i = 0; i < 250; i++) viewers.push(watch(s.url, "fan"));
  await within("250 sockets open", Promise.all(viewers.map((v) => v.opened)), DEADLINE_MS);
  for (let b = 0; b < 40; b++) {
    if (b === 20) for (let i = 0; i < 250; i++) viewers.push(watch(s.url, "fan")); // join mid-run
    await push(200 + b * 20, 20);
  }
  await within("500 sockets open", Promise.all(viewers.map((v) => v.opened)), DEADLINE_MS);
  expect((await s.post("/worker/jobs/fan/complete", { status: "completed" })).status).toBe(200);
  const ends = await within("500 closes", Promise.all(viewers.map((v) => v.closed)), DEADLINE_MS);
  const file = await Bun.file(join(s.dir, "fan.jsonl")).text();
  const wrong = viewers.filter((v) => v.text() !== file).length;
  expect({ ends: new Set(ends.map((e) => `${e.code} ${e.reason} ${e.lines}`)), wrong }).toEqual({
    ends: new Set(["1000 job completed 1000"]),
    wrong: 0,
  });
}, 60_000);
