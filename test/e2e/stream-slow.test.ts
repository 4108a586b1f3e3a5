// A viewer that stops reading while 200 MB are pushed: the server (a child process) stays small, and nothing is skipped.
import { expect, test } from "bun:test";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { spawnServer } from "../support/process.ts";
import { startTestServer } from "../support/server.ts";
import { DEADLINE_MS } from "../support/wait.ts";
import { within } from "../support/ws.ts";

const MB = 1024 * 1024;

/** One push body of `n` lines `slow-<i> <pad>` (~110 bytes stored each), built as text for speed. */
function body(start: number, n: number): string {
  const pad = "y".repeat(60);
  const lines: string[] = [];
  for (let i = start; i < start + n; i++) lines.push(`{"stream":"stdout","line":"slow-${i} ${pad}"}`);
  return `{"step_name":"build","lines":[${lines.join(",")}]}`;
}

test("a viewer that stops reading while 200 MB are pushed keeps server RSS bounded and then gets every line", async () => {
  await using srv = await spawnServer();
  const ws = new WebSocket(`${srv.url.replace(/^http/, "ws")}/api/jobs/slow/logs/stream`);
  const hasher = new Bun.CryptoHasher("sha256");
  let received = 0;
  let lines = 0;
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<{ code: number; reason: string }>();
  ws.addEventListener("open", () => opened.resolve());
  ws.addEventListener("message", (e) => {
    const text = e.data as string;
    hasher.update(text);
    received += Buffer.byteLength(text);
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines++;
  });
  ws.addEventListener("close", (e) => closed.resolve({ code: e.code, reason: e.reason }));
  await within("open", opened.promise);
  expect(ws.pause()).toBe(true); // stop reading the socket: the server sees TCP back-pressure

  const baseline = srv.rss();
  const perBatch = 2_000; // small bodies: ingest's own garbage stays small next to what is measured
  const path = join(srv.dir, "logs", "slow.jsonl");
  let lineCount = 0;
  while (lineCount === 0 || Bun.file(path).size < 200 * MB) {
    const res = await fetch(`${srv.url}/worker/jobs/slow/logs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body(lineCount, perBatch),
    });
    expect(res.status).toBe(200);
    lineCount += perBatch;
  }
  const peakWhilePaused = srv.peakRss();
  const receivedWhilePaused = received;
  const size = Bun.file(path).size;

  ws.resume();
  expect(
    (
      await fetch(`${srv.url}/worker/jobs/slow/complete`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ status: "completed" }),
      })
    ).status,
  ).toBe(200);
  const end = await within("the stream to end", closed.promise, 60_000);
  const fileHash = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) fileHash.update(chunk);

  console.log(
    `slow viewer: file ${(size / MB).toFixed(0)} MB, server RSS ${(baseline / MB).toFixed(0)} MB before, peak ${(peakWhilePaused / MB).toFixed(0)} MB while paused (${(srv.peakRss() / MB).toFixed(0)} MB overall); ${(receivedWhilePaused / MB).toFixed(1)} MB reached the client while paused`,
  );
  // Ingest alone grows RSS by ~45 MB here; holding the pushed log for the viewer would add 200+ MB.
  expect(peakWhilePaused - baseline).toBeLessThan(100 * MB);
  expect(receivedWhilePaused).toBeLessThan(50 * MB);
  expect({ end, lines, received, hash: hasher.digest("hex") }).toEqual({
    end: { code: 1000, reason: "job completed" },
    lines: lineCount,
    received: size,
    hash: fileHash.digest("hex"),
  });
}, 90_000);

test("a legacy log read across back-pressure pauses resumes where it stopped, with no line lost or repeated", async () => {
  await using s = await startTestServer({ stream: { max_frame_bytes: 8192 } });
  const path = join(s.dir, "legacy.log");
  const fd = openSync(path, "w");
  for (let chunk = 0; chunk < 40; chunk++) {
    let text = "";
    for (let i = 0; i < 5000; i++) text += `legacy line ${chunk * 5000 + i} ${"z".repeat(80)}\n`;
    writeSync(fd, text);
  }
  closeSync(fd);
  const ws = new WebSocket(`${s.url.replace(/^http/, "ws")}/api/jobs/legacy/logs/stream`);
  const hasher = new Bun.CryptoHasher("sha256");
  let lines = 0;
  let pauses = 0;
  const all = Promise.withResolvers<void>();
  ws.addEventListener("message", (e) => {
    const text = e.data as string;
    hasher.update(text);
    const before = lines;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines++;
    if (lines === 200_000) all.resolve();
    // Every 25,000 lines the client stops reading for 50 ms: the server is left blocked mid-read.
    if (Math.floor(before / 25_000) !== Math.floor(lines / 25_000) && lines < 200_000) {
      ws.pause();
      pauses++;
      setTimeout(() => ws.resume(), 50);
    }
  });
  await within("every legacy line", all.promise, DEADLINE_MS);
  expect(pauses).toBe(7);
  const fileHash = new Bun.CryptoHasher("sha256");
  fileHash.update(await Bun.file(path).bytes());
  expect({ lines, hash: hasher.digest("hex") }).toEqual({ lines: 200_000, hash: fileHash.digest("hex") });
  ws.close();
}, 60_000);
