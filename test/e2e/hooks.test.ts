// Job-end hooks against a real local HTTP receiver: success, retries, timeouts, failures as server events.
import { describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import { startS3 } from "../support/s3.ts";
import { makeLines, parseJsonl, startTestServer, type TestServer } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";

interface Received {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** A hook receiver on port 0: /ok answers 200, /fail 500, /flaky 500 then 200, /slow never answers. */
function startReceiver(onRequest: (r: Received) => void | Promise<void> = () => {}) {
  const received: Received[] = [];
  const hanging = Promise.withResolvers<void>();
  let flaky = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const r: Received = {
        path,
        headers: Object.fromEntries(req.headers),
        body: (await req.json()) as never,
      };
      received.push(r);
      await onRequest(r);
      if (path === "/slow") await hanging.promise;
      if (path === "/ok" || (path === "/flaky" && flaky++ > 0)) return new Response("ok");
      return new Response("nope", { status: path === "/gone" ? 404 : 500 });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    [Symbol.dispose]() {
      hanging.resolve();
      server.stop(true);
    },
  };
}

async function finish(s: TestServer, id: string, status = "completed"): Promise<string[]> {
  await s.post(`/worker/jobs/${id}/logs`, { step_name: "build", lines: makeLines(2) });
  await s.post(`/worker/jobs/${id}/complete`, {
    status,
    ...(status === "failed" ? { error: "exit 1" } : {}),
  });
  await untilEvent(
    s.events,
    "settled",
    `job ${id} settled`,
    async () => ((await (await s.fetch(`/api/jobs/${id}`)).json()) as { settled: boolean }).settled,
  );
  const events = (await (await s.fetch(`/api/jobs/${id}/steps/_server/logs`)).json()) as { logs: string };
  return parseJsonl(events.logs).map((l) => l.line!);
}

describe("hooks", () => {
  test("a matching hook receives the job as JSON with its headers; a non-matching one is not called", async () => {
    using rx = startReceiver();
    await using s = await startTestServer({
      hooks: [
        { url: `${rx.url}/ok`, headers: { authorization: "Bearer t0k" } },
        { url: `${rx.url}/ok?only=failed`, on: ["failed"] },
      ],
    });
    const events = await finish(s, "h1");
    expect({
      events,
      received: rx.received.map((r) => ({ path: r.path, auth: r.headers.authorization, body: r.body })),
    }).toEqual({
      events: [],
      received: [
        {
          path: "/ok",
          auth: "Bearer t0k",
          body: {
            event: "job.finished",
            id: "h1",
            workspace: "default",
            task: "default",
            status: "completed",
            error: null,
            created_at: expect.any(String) as never,
            finished_at: expect.any(String) as never,
            lines: 2,
            bytes: expect.any(Number) as never,
            late_lines: 0,
          },
        },
      ],
    });
  });

  test("a failing hook is retried, then becomes one server event without the URL's credentials", async () => {
    using rx = startReceiver();
    const port = new URL(rx.url).port;
    await using s = await startTestServer({
      hooks: [
        { url: `http://bot:s3cret@127.0.0.1:${port}/fail`, retries: 2, backoff: "10ms" },
        { url: `${rx.url}/flaky`, retries: 1, backoff: "10ms" },
        { url: `${rx.url}/gone`, retries: 3, backoff: "10ms" },
      ],
    });
    const events = await finish(s, "h2", "failed");
    expect({
      events: events.sort(),
      calls: rx.received.map((r) => r.path).sort(),
    }).toEqual({
      events: [
        `[hooks] hook ${rx.url}/fail failed: HTTP 500 Internal Server Error (3 attempts)`,
        `[hooks] hook ${rx.url}/gone failed: HTTP 404 Not Found`,
      ],
      // 5xx is retried; a 404 will not change on a retry.
      calls: ["/fail", "/fail", "/fail", "/flaky", "/flaky", "/gone"],
    });
  });

  test("a hook that does not answer in time and one that refuses connections become server events", async () => {
    using rx = startReceiver();
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const deadUrl = `http://127.0.0.1:${closed.port}/hook`;
    closed.stop(true);
    await using s = await startTestServer({
      hooks: [
        { url: `${rx.url}/slow`, timeout: "150ms", retries: 0 },
        { url: deadUrl, retries: 0 },
      ],
    });
    const events = await finish(s, "h3", "cancelled");
    expect(events.sort()).toEqual(
      [
        `[hooks] hook ${deadUrl} failed: connection failed: ECONNREFUSED`,
        `[hooks] hook ${rx.url}/slow failed: no response within 150ms`,
      ].sort(),
    );
  });

  test("hooks fire before the upload, and a failing hook's server event is inside the archive", async () => {
    await using s3 = await startS3();
    const seenAtHookTime: Array<string[]> = [];
    const rx = startReceiver(async () => {
      seenAtHookTime.push(await s3.keys());
    });
    using _rx = rx;
    await using s = await startTestServer({
      log_storage: { archive: s3.archive() },
      hooks: [{ url: `${rx.url}/fail`, retries: 0 }],
    });
    await finish(s, "h4");
    const view = await untilEvent(s.events, "archive.uploaded", "the archive", async () => {
      const j = (await (await s.fetch("/api/jobs/h4")).json()) as {
        archive: { state: string; key: string } | null;
      };
      return j.archive?.state === "uploaded" ? j.archive : undefined;
    });
    const archived = parseJsonl(new TextDecoder().decode(gunzipSync((await s3.getRaw(view.key))!.bytes)));
    expect({ atHookTime: seenAtHookTime, last: archived.at(-1) }).toEqual({
      atHookTime: [[]],
      last: {
        ts: expect.any(String) as never,
        stream: "stderr",
        step: "_server",
        line: `[hooks] hook ${rx.url}/fail failed: HTTP 500 Internal Server Error`,
      },
    });
  });
});
