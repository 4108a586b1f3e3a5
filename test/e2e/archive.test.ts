// The archive against a real S3 server (s3rver): upload, verification, reads that fall back to it, late lines.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { startS3, type TestS3 } from "../support/s3.ts";
import { makeLines, parseJsonl, startTestServer, type TestServer } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";
import { watch } from "../support/ws.ts";

const CREATED = "2025-02-12T10:56:45.123Z";

type ArchiveView = {
  state: string;
  key: string;
  attempts: number;
  last_error: string | null;
  uploaded_at: string | null;
  bytes: number;
  sha256: string | null;
  log_bytes: number;
  local_deleted: boolean;
};

async function job(
  s: TestServer,
  id: string,
): Promise<{ bytes: number; lines: number; archive: ArchiveView | null }> {
  return (await (await s.fetch(`/api/jobs/${id}`)).json()) as never;
}

/** Waits until the job's archive is verified and covers every committed byte. */
async function archived(s: TestServer, id: string): Promise<ArchiveView> {
  return untilEvent(s.events, "archive.uploaded", `the archive of ${id}`, async () => {
    const j = await job(s, id);
    return j.archive?.state === "uploaded" && j.archive.log_bytes === j.bytes ? j.archive : undefined;
  });
}

async function runJob(
  s: TestServer,
  id: string,
  opts: { task?: string; lines?: number; status?: string } = {},
): Promise<void> {
  const put = await s.fetch(`/api/jobs/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ workspace: "ws", task: opts.task ?? "build", created_at: CREATED }),
  });
  expect(put.status).toBe(201);
  const n = opts.lines ?? 50;
  expect(
    (await s.post(`/worker/jobs/${id}/logs`, { step_name: "build", lines: makeLines(n, "b") })).status,
  ).toBe(200);
  expect(
    (await s.post(`/worker/jobs/${id}/logs`, { step_name: "test", lines: makeLines(n, "t", "stderr") }))
      .status,
  ).toBe(200);
  expect((await s.post(`/worker/jobs/${id}/complete`, { status: opts.status ?? "completed" })).status).toBe(
    200,
  );
}

async function read(s: TestServer, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await s.fetch(path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function withS3(fn: (s3: TestS3) => Promise<void>): Promise<void> {
  await using s3 = await startS3();
  await fn(s3);
}

describe("archive to S3", () => {
  test("a finished job's log is uploaded with its index, verified, and is one gzip member equal to the local file", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({ log_storage: { archive: s3.archive("logs/") } });
      await runJob(s, "job-1", { task: "ci/build:linux" });
      const view = await archived(s, "job-1");
      const key = "logs/ws/ci/build:linux/2025/02/12/2025-02-12T10-56-45_job-1.jsonl.gz";
      const local = readFileSync(join(s.dir, "job-1.jsonl"));
      const raw = (await s3.getRaw(key))!;
      expect({
        view: { ...view, uploaded_at: typeof view.uploaded_at },
        keys: await s3.keys(),
        contentType: raw.contentType,
        // Bun.gunzipSync reads one member only: the whole log means the archive is one member.
        gunzipped: Buffer.from(Bun.gunzipSync(raw.bytes)).equals(local),
      }).toEqual({
        view: {
          state: "uploaded",
          key,
          attempts: 1,
          last_error: null,
          uploaded_at: "string",
          bytes: raw.bytes.length,
          sha256: new Bun.CryptoHasher("sha256").update(raw.bytes).digest("hex"),
          log_bytes: local.length,
          local_deleted: false,
          next_attempt_at: null,
        } as never,
        keys: [key, `${key}.idx`],
        contentType: "application/gzip",
        gunzipped: true,
      });
    }));

  test("every read form falls back to the archive when the local file is gone", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
      await runJob(s, "gone", { lines: 30 });
      await archived(s, "gone");
      const whole = await read(s, "/api/jobs/gone/logs");
      const step = await read(s, "/api/jobs/gone/steps/test/logs");
      const window = await read(s, "/api/jobs/gone/logs?from=25&limit=10");
      const tail = await read(s, "/api/jobs/gone/steps/build/logs?tail=3");
      const ndjsonLocal = await (await s.fetch("/api/jobs/gone/logs?format=ndjson")).text();

      rmSync(join(s.dir, "gone.jsonl"));
      const after = {
        whole: await read(s, "/api/jobs/gone/logs"),
        step: await read(s, "/api/jobs/gone/steps/test/logs"),
        window: await read(s, "/api/jobs/gone/logs?from=25&limit=10"),
        tail: await read(s, "/api/jobs/gone/steps/build/logs?tail=3"),
      };
      const nd = await s.fetch("/api/jobs/gone/logs?format=ndjson");
      const archiveSource = (r: { status: number; body: Record<string, unknown> }) => ({
        status: r.status,
        body: { ...r.body, source: "archive" },
      });
      expect({
        whole: after.whole,
        step: after.step,
        window: after.window,
        tail: after.tail,
        ndjson: { source: nd.headers.get("x-stroem-source"), text: await nd.text() },
      }).toEqual({
        whole: archiveSource(whole),
        step: archiveSource(step),
        window: archiveSource(window),
        tail: archiveSource(tail),
        ndjson: { source: "archive", text: ndjsonLocal },
      });
      expect(parseJsonl(after.step.body.logs as string).map((l) => l.line)).toEqual(
        makeLines(30, "t").map((l) => l.line),
      );
      expect(after.whole.body.complete).toBe(true);
    }));

  test("the WebSocket backfill of an archived job comes from the archive, then the stream closes", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
      await runJob(s, "ws-gone", { lines: 40 });
      await archived(s, "ws-gone");
      const local = readFileSync(join(s.dir, "ws-gone.jsonl"), "utf8");
      rmSync(join(s.dir, "ws-gone.jsonl"));
      using viewer = watch(s.url, "ws-gone");
      const closed = await viewer.closed;
      expect({ text: viewer.text(), code: closed.code }).toEqual({ text: local, code: 1000 });
    }));

  test("the local file is read while the job runs and while it exists, not the archive", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
      await s.post("/worker/jobs/live/logs", { step_name: "build", lines: makeLines(3) });
      const running = await read(s, "/api/jobs/live/logs");
      expect([running.body.source, running.body.complete]).toEqual(["local", false]);
      expect((await job(s, "live")).archive).toBeNull();
      await s.post("/worker/jobs/live/complete", { status: "completed" });
      await archived(s, "live");
      const done = await read(s, "/api/jobs/live/logs");
      expect([done.body.source, done.body.complete]).toEqual(["local", true]);
    }));

  test("lines pushed after the upload re-upload the same key", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({
        log_storage: { archive: s3.archive(), rearchive_delay: "50ms" },
      });
      await runJob(s, "late", { lines: 5 });
      const first = await archived(s, "late");
      const late = await s.post("/worker/jobs/late/logs", {
        step_name: "build",
        lines: makeLines(2, "late"),
      });
      expect(((await late.json()) as { first: number }).first).toBe(10);
      await s.post("/api/jobs/late/events", { message: "late server event" });
      const second = await untilEvent(s.events, "archive.uploaded", "the re-upload", async () => {
        const j = await job(s, "late");
        return j.archive?.state === "uploaded" &&
          j.archive.log_bytes === j.bytes &&
          j.archive.log_bytes > first.log_bytes
          ? j.archive
          : undefined;
      });
      const raw = (await s3.getRaw(second.key))!;
      const lines = parseJsonl(new TextDecoder().decode(gunzipSync(raw.bytes)));
      expect({
        key: second.key,
        keys: await s3.keys(),
        tail: lines.slice(10).map((l) => [l.step, l.line]),
        local: Buffer.from(gunzipSync(raw.bytes)).equals(readFileSync(join(s.dir, "late.jsonl"))),
      }).toEqual({
        key: first.key,
        keys: [first.key, `${first.key}.idx`],
        tail: [
          ["build", "late-0"],
          ["build", "late-1"],
          ["_server", "late server event"],
        ],
        local: true,
      });
    }));

  test("a corrupt archive gives an honest 502, never an empty log", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
      await runJob(s, "bad");
      const view = await archived(s, "bad");
      rmSync(join(s.dir, "bad.jsonl"));
      await s3.putRaw(view.key, new TextEncoder().encode("this is not gzip"));
      const whole = await read(s, "/api/jobs/bad/logs");
      const step = await read(s, "/api/jobs/bad/steps/build/logs?tail=5");
      const honest = {
        status: 502,
        body: {
          code: "archive_unreadable",
          error: `archive of job bad could not be read: s3://${s3.bucket}/${view.key}: corrupt or unreadable archive (Z_DATA_ERROR: incorrect header check)`,
        },
      };
      expect([whole, step]).toEqual([honest, honest]);
      // The streamed form pulls its first batch before sending the status: the same 502.
      const nd = await s.fetch("/api/jobs/bad/logs?format=ndjson");
      expect({ status: nd.status, body: await nd.json() }).toEqual(honest);
    }));

  test("a missing archive object and a missing local file give a 502 naming the object", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
      await runJob(s, "lost");
      const view = await archived(s, "lost");
      rmSync(join(s.dir, "lost.jsonl"));
      await s3.stop();
      const unreachable = await read(s, "/api/jobs/lost/logs");
      await s3.start();
      await s3.remove(view.key);
      const missing = await read(s, "/api/jobs/lost/logs");
      expect([unreachable.status, unreachable.body.error, missing]).toEqual([
        502,
        `archive of job lost could not be read: cannot reach ${s3.endpoint}: connect ECONNREFUSED 127.0.0.1:${s3.port}`,
        {
          status: 502,
          body: {
            code: "archive_unreadable",
            error: `archive of job lost could not be read: object ${view.key} is missing from s3://${s3.bucket} at ${s3.endpoint}`,
          },
        },
      ]);
    }));

  test("delete_local_after_archive removes the local file only once verified; a late line brings it back", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({
        log_storage: { archive: s3.archive(), delete_local_after_archive: true, rearchive_delay: "50ms" },
      });
      await runJob(s, "del", { lines: 4 });
      const view = await archived(s, "del");
      expect([view.local_deleted, existsSync(join(s.dir, "del.jsonl"))]).toEqual([true, false]);
      const before = await read(s, "/api/jobs/del/logs");
      expect([before.status, before.body.source]).toEqual([200, "archive"]);

      // The first late push is refused while the file is restored; the retry lands after the archived lines.
      const body = { step_name: "build", lines: makeLines(1, "late") };
      const refused = await s.post("/worker/jobs/del/logs", body, { "idempotency-key": "late-1" });
      expect([refused.status, refused.headers.get("retry-after")]).toEqual([503, "1"]);
      const accepted = await untilEvent(
        s.events,
        ["archive.restored", "archive.restore_failed"],
        "the restored local file",
        async () => {
          const r = await s.post("/worker/jobs/del/logs", body, { "idempotency-key": "late-1" });
          return r.status === 200 ? ((await r.json()) as { first: number }) : undefined;
        },
      );
      expect(accepted.first).toBe(8);
      const again = await untilEvent(s.events, "archive.uploaded", "the re-upload", async () => {
        const j = await job(s, "del");
        return j.archive?.local_deleted && j.archive.log_bytes === j.bytes ? j.archive : undefined;
      });
      const all = parseJsonl((await read(s, "/api/jobs/del/logs")).body.logs as string);
      expect({ key: again.key, lines: all.map((l) => l.line) }).toEqual({
        key: view.key,
        lines: [...makeLines(4, "b"), ...makeLines(4, "t"), ...makeLines(1, "late")].map((l) => l.line),
      });
    }));

  test("a job's workspace and task cannot change once it is archived", () =>
    withS3(async (s3) => {
      await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
      await runJob(s, "fixed");
      const view = await archived(s, "fixed");
      const res = await s.fetch("/api/jobs/fixed", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ workspace: "other", task: "build" }),
      });
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 409,
        body: {
          code: "archived",
          error: `job fixed is archived at s3://${s3.bucket}/${view.key}; its workspace, task and created_at can no longer change`,
        },
      });
    }));
});
