// An S3 outage delays archives, never loses one: retried with backoff, across a restart of the server.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { writeBigLog } from "../support/biglog.ts";
import { spawnServer } from "../support/process.ts";
import { startS3 } from "../support/s3.ts";
import { makeLines, parseJsonl, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { DEADLINE_MS, untilEvent, waitFor } from "../support/wait.ts";

type View = {
  bytes: number;
  archive: {
    state: string;
    key: string;
    attempts: number;
    log_bytes: number;
    last_error: string | null;
  } | null;
};

const getJob = async (s: TestServer, id: string) => (await (await s.fetch(`/api/jobs/${id}`)).json()) as View;
const ids = Array.from({ length: 20 }, (_, i) => `outage-${i}`);

describe("archive during an S3 outage", () => {
  test("20 jobs finished while S3 is down, and a server restart meanwhile, are all archived once S3 is back", async () => {
    await using s3 = await startS3();
    using dir = tempDir();
    const config = {
      log_storage: { archive: s3.archive(), archive_retry: { initial: "20ms", max: "150ms" } },
    };
    await s3.stop();

    const failedOnce = new Map<string, number>();
    {
      await using s = await startTestServer(config, { dir: dir.path });
      await Promise.all(
        ids.map(async (id) => {
          await s.post(`/worker/jobs/${id}/logs`, { step_name: "build", lines: makeLines(100, id) });
          await s.post(`/worker/jobs/${id}/complete`, { status: "completed" });
        }),
      );
      for (const id of ids) {
        const j = await untilEvent(s.events, "archive.failed", `a failed attempt of ${id}`, async () => {
          const v = await getJob(s, id);
          return v.archive?.state === "retrying" && v.archive.attempts >= 1 ? v : undefined;
        });
        failedOnce.set(id, j.archive!.attempts);
        expect(j.archive!.last_error).toMatch(
          /^cannot reach http:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED /,
        );
      }
      // The node still ingests and serves: ready (a load balancer keeps it), with the archive as a warning.
      const ready = await s.fetch("/readyz");
      expect({ status: ready.status, body: await ready.json() }).toEqual({
        status: 200,
        body: {
          status: "ready",
          warnings: [
            `archive: cannot reach ${s3.endpoint}: connect ECONNREFUSED 127.0.0.1:${s3.port} (20 archives waiting)`,
          ],
        },
      });
    }

    await using s = await startTestServer(config, { dir: dir.path });
    // Still down after the restart: the queue keeps retrying from the database.
    await untilEvent(s.events, "archive.failed", "a retry after the restart", async () => {
      const v = await getJob(s, ids[0]!);
      return v.archive!.attempts > failedOnce.get(ids[0]!)!;
    });
    await s3.start();
    for (const id of ids) {
      await untilEvent(
        s.events,
        "archive.uploaded",
        `the archive of ${id}`,
        async () => {
          const v = await getJob(s, id);
          return v.archive?.state === "uploaded" && v.archive.log_bytes === v.bytes;
        },
        DEADLINE_MS,
      );
    }

    const results = await Promise.all(
      ids.map(async (id) => {
        const v = await getJob(s, id);
        const text = new TextDecoder().decode(gunzipSync((await s3.getRaw(v.archive!.key))!.bytes));
        return {
          same: text === readFileSync(join(dir.path, `${id}.jsonl`), "utf8"),
          lines: parseJsonl(text).length,
          events: parseJsonl(text)
            .filter((l) => l.step === "_server")
            .map((l) => l.line!.replaceAll(v.archive!.key, "KEY")),
        };
      }),
    );
    const expected = {
      same: true,
      lines: 101,
      // One server event per outage, not one per retry; it is inside the archive.
      events: [
        `[archive] upload to s3://${s3.bucket}/KEY failed: cannot reach ${s3.endpoint}: connect ECONNREFUSED 127.0.0.1:${s3.port}; retrying with backoff (at most 150ms apart) until it succeeds`,
      ],
    };
    expect(results).toEqual(ids.map(() => expected));
    expect(await (await s.fetch("/readyz")).json()).toEqual({ status: "ready" });
  }, 60_000);

  test("a server killed with -9 in the middle of an upload uploads the whole log after its restart", async () => {
    await using s3 = await startS3();
    using dir = tempDir();
    mkdirSync(join(dir.path, "logs"));
    const path = join(dir.path, "logs", "killed.jsonl");
    const log = writeBigLog(path, 96 * 2 ** 20);
    const config = { log_storage: { archive: s3.archive() } };
    const view = async (url: string) =>
      ((await (await fetch(`${url}/api/jobs/killed`)).json()) as View).archive;
    {
      await using first = await spawnServer(config, { dir: dir.path });
      await fetch(`${first.url}/api/jobs/killed`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ workspace: "ws", task: "t" }),
      });
      await fetch(`${first.url}/worker/jobs/killed/complete`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ status: "completed" }),
      });
      await waitFor(
        "the upload to start",
        async () => (await view(first.url))?.state === "uploading",
        DEADLINE_MS,
        1,
      );
      first.proc.kill("SIGKILL");
      await first.proc.exited;
    }
    await using second = await spawnServer(config, { dir: dir.path });
    const done = await waitFor("the archive after the restart", async () => {
      const a = await view(second.url);
      return a?.state === "uploaded" ? a : undefined;
    });
    const archived = gunzipSync((await s3.getRaw(done.key))!.bytes);
    expect({
      attempts: done.attempts,
      log_bytes: done.log_bytes,
      same: Buffer.from(archived).equals(readFileSync(path)),
    }).toEqual({
      attempts: 2,
      log_bytes: log.size,
      same: true,
    });
  });
});
