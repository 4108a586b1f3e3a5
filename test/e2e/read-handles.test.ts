// Reads that stop early (a limit, max_read_bytes, a client that hangs up, a stream viewer's turn) close their file.
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { makeLines, startTestServer } from "../support/server.ts";
import { watch } from "../support/ws.ts";

const openFds = () => readdirSync("/proc/self/fd").length;

test("reads that stop before the end of the log leave no file open", async () => {
  await using s = await startTestServer({ limits: { max_read_bytes: "64KiB" } });
  for (let b = 0; b < 40; b++)
    await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1000, `b${b}`) });
  const warm = await s.fetch("/api/jobs/j/logs?limit=1");
  await warm.json();
  const before = openFds();
  for (let i = 0; i < 200; i++) {
    await (await s.fetch("/api/jobs/j/logs?limit=10")).json(); // stops at the limit
    await (await s.fetch("/api/jobs/j/logs?from=0")).json(); // stops at max_read_bytes
    if (i % 20 === 0) await (await s.fetch("/api/jobs/j/logs")).json(); // whole, streamed
    await (await s.fetch(`/api/jobs/j/steps/s/logs?tail=5&from=${i}`)).json();
  }
  for (let i = 0; i < 50; i++) {
    const res = await s.fetch("/api/jobs/j/logs?format=ndjson");
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel(); // the client hangs up mid-stream
  }
  // Bun may keep a few sockets of its own; 650 leaked files would be unmistakable.
  expect(openFds() - before).toBeLessThan(20);
});

test("stream viewers caught up from the file over several turns leave no file open", async () => {
  await using s = await startTestServer();
  for (let b = 0; b < 40; b++)
    await s.post("/worker/jobs/v/logs", { step_name: "s", lines: makeLines(1000, `b${b}`) });
  await s.post("/worker/jobs/v/complete", { status: "completed" });
  const before = openFds();
  // A 4.4 MB backfill is read in 1 MiB turns: each viewer's read is paused and reopened several times.
  const ends = await Promise.all(
    Array.from({ length: 30 }, async () => {
      const v = watch(s.url, "v");
      const end = await v.closed;
      return `${end.code} ${end.reason} ${end.lines}`;
    }),
  );
  expect(new Set(ends)).toEqual(new Set(["1000 job completed 40000"]));
  expect(openFds() - before).toBeLessThan(20);
});
