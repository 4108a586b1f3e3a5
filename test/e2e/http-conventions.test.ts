// Compression and conditional reads over real sockets: a streamed gzip answer, a WebSocket upgrade left alone.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { writeBigLog } from "../support/biglog.ts";
import { makeLines, startTestServer } from "../support/server.ts";
import { watch, within } from "../support/ws.ts";

describe("compression over a real socket", () => {
  test("a streamed ndjson read is gzipped as a stream: chunked, no length, and it reads back byte for byte", async () => {
    await using s = await startTestServer();
    const big = writeBigLog(join(s.dir, "big.jsonl"), 8 << 20);
    const file = await Bun.file(join(s.dir, "big.jsonl")).bytes();
    // Bun's fetch would decompress for us: take the bytes as sent.
    const res = await s.fetch("/api/jobs/big/logs?format=ndjson", {
      headers: { "accept-encoding": "gzip" },
      decompress: false,
    } as RequestInit);
    const zipped = new Uint8Array(await res.arrayBuffer());
    const back = Bun.gunzipSync(zipped);
    expect([
      res.status,
      res.headers.get("content-encoding"),
      res.headers.get("transfer-encoding"),
      res.headers.get("content-length"),
      zipped.length < big.size / 4,
      back.length,
      Buffer.from(back).equals(Buffer.from(file)),
    ]).toEqual([200, "gzip", "chunked", null, true, big.size, true]);
  });

  test("a WebSocket upgrade from a client that accepts gzip is not touched: backfill and live lines arrive", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/ws1/logs", { step_name: "build", lines: makeLines(3) });
    const url = `${s.url.replace(/^http/, "ws")}/api/jobs/ws1/logs/stream`;
    const ws = new WebSocket(url, { headers: { "accept-encoding": "gzip, deflate" } } as never);
    const frames: string[] = [];
    const got = Promise.withResolvers<void>();
    ws.addEventListener("message", (e) => {
      frames.push(e.data as string);
      if (frames.join("").split("\n").length > 4) got.resolve();
    });
    ws.addEventListener("close", (e) => got.reject(new Error(`closed ${e.code} ${e.reason}`)));
    await within("the socket to open", new Promise((r) => ws.addEventListener("open", r)));
    await s.post("/worker/jobs/ws1/logs", { step_name: "build", lines: makeLines(1, "live") });
    await within("four lines", got.promise);
    ws.close();
    expect(
      frames
        .join("")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => (JSON.parse(l) as { line: string }).line),
    ).toEqual(["line-0", "line-1", "line-2", "live-0"]);
  });

  test("the stream's backfill takes the reads' filters", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/ws2/logs", {
      step_name: "build",
      lines: [
        { ts: "2025-02-12T10:00:01Z", stream: "stdout", line: "old error" },
        { ts: "2025-02-12T10:00:02Z", stream: "stdout", line: "new error" },
        { ts: "2025-02-12T10:00:03Z", stream: "stdout", line: "new info" },
      ],
    });
    using v = watch(s.url, "ws2", { q: "error", since: "2025-02-12T10:00:02Z" });
    await v.opened;
    await s.post("/worker/jobs/ws2/logs", {
      step_name: "build",
      lines: [
        { ts: "2025-02-12T10:00:04Z", stream: "stdout", line: "live info" },
        { ts: "2025-02-12T10:00:05Z", stream: "stdout", line: "live error" },
      ],
    });
    await v.waitLines(2);
    expect(
      v
        .text()
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => (JSON.parse(l) as { line: string }).line),
    ).toEqual(["new error", "live error"]);
  });
});
