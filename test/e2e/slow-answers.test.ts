// An answer that takes the server long to start (a slow S3 behind an archived log) is sent, not cut off.
import { expect, test } from "bun:test";
import { startS3, type TestS3 } from "../support/s3.ts";
import { makeLines, parseJsonl, startTestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

/** Longer than Bun.serve's default idleTimeout (10 s), which counts a handler that has not answered yet as idle. */
const SLOW_MS = 15_000;

/**
 * A proxy in front of s3rver that holds each GET of an archive object for `delayMs` while `slow` is set (not
 * of its `.idx` index, so a read waits once, as it would on a whole-object read).
 */
function slowGetProxy(s3: TestS3, delayMs: number) {
  const state = { slow: false, held: 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // The proxy's own connections wait out the delay too: its idle timeout must not end them first.
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (
        state.slow &&
        req.method === "GET" &&
        url.pathname.split("/").length > 2 &&
        !url.pathname.endsWith(".idx")
      ) {
        state.held++;
        // The fault under test is a slow S3: the delay is what is injected, not a wait for an event.
        await Bun.sleep(delayMs);
      }
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      const res = await fetch(`${s3.endpoint}${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers, // s3rver checks the signature over the Host header: kept as sent
        ...(body === undefined ? {} : { body }),
        decompress: false,
      });
      return new Response(res.body, { status: res.status, headers: res.headers });
    },
  });
  return Object.assign(state, {
    endpoint: `http://127.0.0.1:${server.port}`,
    [Symbol.dispose]: () => server.stop(true),
  });
}

test("a read of an archived log that waits 15 s for S3 is answered in full, not reset by an idle timeout", async () => {
  await using s3 = await startS3();
  using proxy = slowGetProxy(s3, SLOW_MS);
  await using s = await startTestServer({
    log_storage: {
      archive: { ...s3.archive(), endpoint: proxy.endpoint },
      delete_local_after_archive: true, // reads now come from the archive
    },
  });
  expect((await s.post("/worker/jobs/j/logs", { step_name: "build", lines: makeLines(5) })).status).toBe(200);
  expect((await s.post("/worker/jobs/j/complete", { status: "completed" })).status).toBe(200);
  await waitFor("the local file to go once archived", async () => {
    const j = (await (await s.fetch("/api/jobs/j")).json()) as { archive: { local_deleted: boolean } | null };
    return j.archive?.local_deleted === true;
  });

  proxy.slow = true;
  const started = Date.now();
  const res = await s.fetch("/api/jobs/j/logs").catch((e: Error) => e);
  const waited = Date.now() - started;
  const body = res instanceof Error ? res.message : ((await res.json()) as { source: string; logs: string });
  expect({
    held: proxy.held,
    waitedForS3: waited >= SLOW_MS,
    status: res instanceof Error ? res.message : res.status,
    source: typeof body === "string" ? body : body.source,
    lines: typeof body === "string" ? body : parseJsonl(body.logs).map((l) => l.line),
  }).toEqual({
    held: 1,
    waitedForS3: true,
    status: 200,
    source: "archive",
    lines: makeLines(5).map((l) => l.line),
  });
}, 60_000);
