// A read the server works on for longer than the idle timeout before its first byte is answered whole, never reset.
import { describe, expect, test } from "bun:test";
import { readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { startS3 } from "../support/s3.ts";
import { makeLines, startTestServer } from "../support/server.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";
import { untilEvent, waitFor } from "../support/wait.ts";
import { within } from "../support/ws.ts";

type JobView = {
  bytes: number;
  archive: { state: string; log_bytes: number; local_deleted: boolean } | null;
};

/** How long S3's answers are held back: a tail reads the archive twice, so ~2× this of silence before a byte. */
const DELAY_MS = 5_000;

describe("reads slower than the idle timeout", () => {
  test("a tail of an archived log behind a slow S3 (10 s before the first byte, idle_timeout 1s) arrives whole as JSON and ndjson; a client that stops reading is still cut", async () => {
    await using s3 = await startS3();
    await using proxy = await startTcpProxy({ host: "127.0.0.1", port: s3.port });
    await using s = await startTestServer({
      // Bun checks idle sockets every 4 s: a 1 s idle timeout cuts a silent connection after 4-8 s.
      server: { idle_timeout: "1s" },
      log_storage: {
        archive: { ...s3.archive(), endpoint: proxy.endpoint },
        delete_local_after_archive: true,
      },
    });
    const lines = makeLines(2000, "slow");
    expect((await s.post("/worker/jobs/slow/logs", { step_name: "build", lines })).status).toBe(200);
    expect((await s.post("/worker/jobs/slow/complete", { status: "completed" })).status).toBe(200);
    await untilEvent(
      s.events,
      "archive.local_deleted",
      "the verified archive, local file removed",
      async () => {
        const j = (await (await s.fetch("/api/jobs/slow")).json()) as JobView;
        return j.archive?.state === "uploaded" && j.archive.local_deleted;
      },
    );
    const expected = lines
      .slice(-100)
      .map((l) => `${JSON.stringify({ ts: l.ts, stream: l.stream, step: "build", line: l.line })}\n`)
      .join("");

    // A client that stops reading is still cut: the idle timeout is off only while the server works. A legacy
    // log is read through a file handle of its own, so its release shows when the server gave the read up.
    const legacy = join(s.dir, "big.log");
    writeFileSync(
      legacy,
      Array.from({ length: 200_000 }, (_, i) => `legacy line ${i} ${"x".repeat(80)}\n`).join(""),
    );
    const handles = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === legacy;
        } catch {
          return false;
        }
      }).length;
    const sock = createConnection(s.port, "127.0.0.1");
    const closed = Promise.withResolvers<void>();
    const received: Buffer[] = [];
    sock.on("data", (d: Buffer) => {
      received.push(d);
      if (received.length === 1) sock.pause();
    });
    sock.on("close", () => closed.resolve());
    sock.on("error", () => {});
    sock.write("GET /api/jobs/big/logs?format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor("the stalled read to start", () => handles() === 1);
    const stalledAt = performance.now();
    const released = waitFor("the server to give the stalled read up", () => handles() === 0, 30_000).then(
      () => performance.now() - stalledAt,
    );

    proxy.responseDelayMs = DELAY_MS;
    const started = performance.now();
    /** The status and body, or how the connection failed. */
    const outcome = async (path: string, accept: string): Promise<{ answer: unknown; ms: number }> => {
      try {
        const res = await s.fetch(path, { headers: { accept } });
        const text = await res.text();
        const answer =
          accept === "application/json"
            ? { status: res.status, ...JSON.parse(text) }
            : { status: res.status, text };
        return { answer, ms: performance.now() - started };
      } catch (e) {
        return { answer: { error: (e as Error).message.split(":")[0] }, ms: performance.now() - started };
      }
    };
    const [json, ndjson] = await Promise.all([
      outcome("/api/jobs/slow/logs?tail=100", "application/json"),
      outcome("/api/jobs/slow/logs?tail=100&format=ndjson", "*/*"),
    ]);
    const cutMs = await released;
    // Reading again, the client gets what was buffered and then the end of a cut connection.
    sock.resume();
    await within("the cut connection to end", closed.promise, 30_000);
    const raw = Buffer.concat(received).toString("latin1");
    const cut = { status: raw.split("\r\n")[0], ended: raw.endsWith("\r\n0\r\n\r\n") };
    console.log(
      `slow reads: JSON tail answered after ${Math.round(json.ms)} ms, ndjson after ${Math.round(ndjson.ms)} ms; a client that stopped reading was cut after ${Math.round(cutMs)} ms`,
    );
    expect({
      json: json.answer,
      ndjson: ndjson.answer,
      slow: json.ms >= 2 * DELAY_MS && ndjson.ms >= 2 * DELAY_MS,
      cut,
    }).toEqual({
      json: {
        status: 200,
        logs: expected,
        from: 1900,
        next: 2000,
        source: "archive",
        complete: true,
        truncated: false,
      },
      ndjson: { status: 200, text: expected },
      slow: true,
      cut: { status: "HTTP/1.1 200 OK", ended: false },
    });
  }, 60_000);
});
