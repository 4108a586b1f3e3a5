// Recovery end to end: a job whose worker went silent is failed, its hooks fire and its log is archived.
import { describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import { startS3 } from "../support/s3.ts";
import { makeLines, parseJsonl, startTestServer } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";
import { within } from "../support/ws.ts";

// "alive" beats every 50 ms; stale_after must dwarf that even when this process is descheduled for a while
// on a busy machine (at 300 ms, a stall of a quarter second failed "alive" too).
const STALE = "3s";

describe("recovery of stale jobs", () => {
  test("a running job with no push and no heartbeat is failed, then goes through hooks and the archive", async () => {
    await using s3 = await startS3();
    const hooked = Promise.withResolvers<Record<string, unknown>>();
    using receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        hooked.resolve((await req.json()) as Record<string, unknown>);
        return new Response("ok");
      },
    });
    await using s = await startTestServer({
      recovery: { stale_after: STALE, sweep_interval: "20ms" },
      hooks: [{ url: `http://127.0.0.1:${receiver.port}/hook`, on: ["failed"] }],
      log_storage: { archive: s3.archive() },
    });
    await s.post("/worker/jobs/stale/logs", { step_name: "build", lines: makeLines(3) });
    await s.post("/worker/jobs/alive/logs", { step_name: "build", lines: makeLines(3) });

    // "alive" keeps beating until "stale" is failed: silence, not age, is what counts.
    let beating = true;
    const beats = (async () => {
      while (beating) {
        await s.post("/worker/jobs/alive/heartbeat", {});
        await Bun.sleep(50);
      }
    })();
    const hook = await within("the hook call of the job going stale", hooked.promise, 30_000);

    const view = await untilEvent(s.events, "archive.uploaded", "the archive of the failed job", async () => {
      const j = (await (await s.fetch("/api/jobs/stale")).json()) as {
        archive: { state: string; key: string } | null;
      };
      return j.archive?.state === "uploaded" ? j.archive : undefined;
    });
    const archived = parseJsonl(new TextDecoder().decode(gunzipSync((await s3.getRaw(view.key))!.bytes)));
    const alive = (await (await s.fetch("/api/jobs/alive")).json()) as { status: string };
    // Beating until "alive" was read: an archive slower than stale_after (a busy machine) must not fail it.
    beating = false;
    await beats;
    expect({
      hook: { id: hook.id, status: hook.status, error: hook.error },
      last: archived.at(-1)!.line,
      lines: archived.length,
      alive: alive.status,
    }).toEqual({
      hook: { id: "stale", status: "failed", error: `no activity from workers for ${STALE}` },
      last: `[recovery] no activity from workers for ${STALE}; marking job failed`,
      lines: 4,
      alive: "running",
    });
  });
});
