// S3 faults in front of a real s3rver: 5xx and slow answers for a while, denied access, a host that does not resolve.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { spawnServer } from "../support/process.ts";
import { startS3, type TestS3 } from "../support/s3.ts";
import { faultProxy } from "../support/s3-faults.ts";
import { makeLines, parseJsonl, startTestServer, tempDir } from "../support/server.ts";
import { DEADLINE_MS, untilEvent, waitFor } from "../support/wait.ts";

type Archive = { state: string; key: string; attempts: number; last_error: string | null; log_bytes: number };
type JobView = { bytes: number; lines: number; archive: Archive | null };

async function archivedAll(url: string, ids: string[], timeoutMs = DEADLINE_MS) {
  return Promise.all(
    ids.map((id) =>
      waitFor(
        `the archive of ${id}`,
        async () => {
          const j = (await (await fetch(`${url}/api/jobs/${id}`)).json()) as JobView;
          return j.archive?.state === "uploaded" && j.archive.log_bytes === j.bytes ? j : undefined;
        },
        timeoutMs,
      ),
    ),
  );
}

async function runJobs(url: string, ids: string[], lines = 200) {
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  await Promise.all(
    ids.map(async (id) => {
      expect(
        (await post(`/worker/jobs/${id}/logs`, { step_name: "build", lines: makeLines(lines, id) })).status,
      ).toBe(200);
      expect((await post(`/worker/jobs/${id}/complete`, { status: "completed" })).status).toBe(200);
    }),
  );
}

/** The archive's text, whether it equals the local file, and the job's `[archive]` server events. */
async function inArchive(s3: TestS3, dir: string, id: string, key: string) {
  const text = gunzipSync((await s3.getRaw(key))!.bytes).toString();
  return {
    same: text === readFileSync(join(dir, `${id}.jsonl`), "utf8"),
    events: parseJsonl(text)
      .filter((l) => l.step === "_server")
      .map((l) => l.line!.replaceAll(key, "KEY")),
  };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe("archive under S3 faults", () => {
  test("S3 answering 500 and 503 for a while: every archive is uploaded once, with one server event per job", async () => {
    await using s3 = await startS3();
    // The first four PUTs of every object fail, 500 and 503 in turn: the SDK's own three tries of the first
    // attempt fail, so the archiver retries; the second attempt's SDK retry gets through.
    using proxy = faultProxy(s3, (nth) => (nth < 4 ? { status: nth % 2 === 0 ? 500 : 503 } : null));
    await using s = await startTestServer({
      log_storage: {
        archive: { ...s3.archive(), endpoint: proxy.endpoint },
        archive_retry: { initial: "50ms", max: "200ms" },
      },
    });
    const jobs = ids("flaky", 10);
    const started = performance.now();
    await runJobs(s.url, jobs);
    const views = await archivedAll(s.url, jobs);
    const elapsed = performance.now() - started;
    console.log(`archive faults: 10 jobs through 4 failed PUTs each archived in ${Math.round(elapsed)} ms`);
    const results = await Promise.all(
      views.map(async (v, i) => ({
        attempts: v.archive!.attempts,
        last_error: v.archive!.last_error,
        puts: proxy.stored.get(`/${s3.bucket}/${v.archive!.key}`),
        ...(await inArchive(s3, s.dir, jobs[i]!, v.archive!.key)),
      })),
    );
    const expected = {
      attempts: 2,
      last_error: null,
      puts: 1,
      same: true,
      events: [
        `[archive] upload to s3://${s3.bucket}/KEY failed: uploading KEY failed: HTTP 500 InternalError: We encountered an internal error. Please try again.; retrying with backoff (at most 200ms apart) until it succeeds`,
      ],
    };
    expect({ results, keys: (await s3.keys()).length }).toEqual({
      results: jobs.map(() => expected),
      keys: 20,
    });
    // A 5xx is a transient answer, not an unreachable target: readiness has nothing to say.
    expect(await (await s.fetch("/readyz")).json()).toEqual({ status: "ready" });
  });

  test("S3 answering slowly for a while: archives are uploaded once, at the first attempt, with no server event", async () => {
    await using s3 = await startS3();
    using proxy = faultProxy(s3, (nth) => (nth === 0 ? { delayMs: 1500 } : null));
    await using s = await startTestServer({
      log_storage: { archive: { ...s3.archive(), endpoint: proxy.endpoint } },
    });
    const jobs = ids("slow", 6);
    const started = performance.now();
    await runJobs(s.url, jobs);
    // While the PUTs hang, ingest and reads go on.
    const during = await s.post("/worker/jobs/other/logs", { step_name: "b", lines: makeLines(5) });
    const read = (await (await s.fetch("/api/jobs/slow-0/logs")).json()) as { source: string };
    const views = await archivedAll(s.url, jobs);
    const elapsed = performance.now() - started;
    console.log(
      `archive faults: 6 jobs with a 1.5 s PUT each (4 uploads at once) archived in ${Math.round(elapsed)} ms`,
    );
    const results = await Promise.all(
      views.map(async (v, i) => ({
        attempts: v.archive!.attempts,
        puts: proxy.stored.get(`/${s3.bucket}/${v.archive!.key}`),
        ...(await inArchive(s3, s.dir, jobs[i]!, v.archive!.key)),
      })),
    );
    expect({ during: during.status, source: read.source, results, slow: elapsed >= 1500 }).toEqual({
      during: 200,
      source: "local",
      results: jobs.map(() => ({ attempts: 1, puts: 1, same: true, events: [] })),
      slow: true,
    });
  });

  test("S3 denying access: retried, last_error, readyz and stats say access denied; archived once credentials are fixed", async () => {
    await using s3 = await startS3();
    using dir = tempDir();
    const config = {
      log_storage: { archive: s3.archive(), archive_retry: { initial: "50ms", max: "200ms" } },
    };
    const denied = `access denied to bucket ${s3.bucket} (HTTP 403 InvalidAccessKeyId)`;
    // The target's problem, as readyz and stats show it, is whichever said so last: an attempt (S3's error
    // code in the body) or the bucket probe every archive_retry.max (a HEAD: no body, no code). An attempt's
    // first request is the GET that looks for an object already at the key (archive/foreign.ts).
    const problem = `access denied to bucket ${s3.bucket} \\(HTTP 403(?: InvalidAccessKeyId)?\\) while (?:checking the bucket|downloading \\S+): check the credentials the AWS default chain finds and the bucket policy`;
    let attemptsDenied = 0;
    {
      await using p = await spawnServer(config, {
        dir: dir.path,
        env: { AWS_ACCESS_KEY_ID: "WRONG", AWS_SECRET_ACCESS_KEY: "WRONG" },
      });
      await runJobs(p.url, ["denied"]);
      const view = await waitFor("two denied attempts", async () => {
        const j = (await (await fetch(`${p.url}/api/jobs/denied`)).json()) as JobView;
        return (j.archive?.attempts ?? 0) >= 2 && j.archive?.state === "retrying" ? j.archive : undefined;
      });
      attemptsDenied = view.attempts;
      const ready = await fetch(`${p.url}/readyz`);
      const stats = (await (await fetch(`${p.url}/api/stats`)).json()) as {
        archive: Record<string, unknown>;
      };
      expect({
        last_error: view.last_error,
        ready: { status: ready.status, body: await ready.json() },
        problem: stats.archive.problem,
        queue: stats.archive.queue,
      }).toEqual({
        last_error: `${denied} while downloading ${view.key}: check the credentials the AWS default chain finds and the bucket policy`,
        ready: {
          status: 200,
          body: {
            status: "ready",
            warnings: [expect.stringMatching(new RegExp(`^archive: ${problem} \\(1 archives waiting\\)$`))],
          },
        },
        problem: expect.stringMatching(new RegExp(`^${problem}$`)),
        queue: { pending: 0, uploading: 0, retrying: 1, uploaded: 0 },
      });
      expect(p.stderr()).toMatch(new RegExp(`warn: readyz: ready, degraded: archive: ${problem}`));
    }
    await using p = await spawnServer(config, { dir: dir.path });
    const [v] = await archivedAll(p.url, ["denied"]);
    const archived = await inArchive(s3, join(dir.path, "logs"), "denied", v!.archive!.key);
    expect({
      attempts: v!.archive!.attempts > attemptsDenied,
      last_error: v!.archive!.last_error,
      ...archived,
    }).toEqual({
      attempts: true,
      last_error: null,
      same: true,
      events: [
        `[archive] upload to s3://${s3.bucket}/KEY failed: ${denied} while downloading KEY: check the credentials the AWS default chain finds and the bucket policy; retrying with backoff (at most 200ms apart) until it succeeds`,
      ],
    });
  });

  test("an endpoint host that does not resolve: a clear last_error, ingest goes on, nothing is lost", async () => {
    await using s3 = await startS3();
    using dir = tempDir();
    // A name with an empty label fails in getaddrinfo itself: no DNS query leaves this machine.
    const host = "http://stroem-logs-no-such-host..invalid:9000";
    const retry = { initial: "200ms", max: "1s" };
    const unresolved = `cannot reach ${host}: getaddrinfo ENOTFOUND stroem-logs-no-such-host..invalid`;
    let lines = 0;
    {
      await using s = await startTestServer(
        { log_storage: { archive: { ...s3.archive(), endpoint: host }, archive_retry: retry } },
        { dir: dir.path },
      );
      await runJobs(s.url, ["dns"], 300);
      const view = await untilEvent(
        s.events,
        "archive.failed",
        "a failed attempt",
        async () => {
          const j = (await (await s.fetch("/api/jobs/dns")).json()) as JobView;
          return j.archive?.state === "retrying" ? j.archive : undefined;
        },
        DEADLINE_MS,
      );
      // The server keeps ingesting and serving while the archive cannot be reached.
      const push = await s.post("/worker/jobs/after/logs", { step_name: "b", lines: makeLines(10) });
      const read = (await (await s.fetch("/api/jobs/dns/logs")).json()) as { source: string; logs: string };
      const ready = await s.fetch("/readyz");
      lines = parseJsonl(read.logs).length;
      expect({
        last_error: view.last_error,
        push: push.status,
        read: { source: read.source, lines },
        ready: { status: ready.status, body: await ready.json() },
      }).toEqual({
        last_error: unresolved,
        push: 200,
        read: { source: "local", lines: 301 },
        ready: {
          status: 200,
          body: { status: "ready", warnings: [`archive: ${unresolved} (1 archives waiting)`] },
        },
      });
    }
    // Pointed at the real endpoint, the queued archive goes up whole.
    await using s = await startTestServer(
      { log_storage: { archive: s3.archive(), archive_retry: retry } },
      { dir: dir.path },
    );
    const [v] = await archivedAll(s.url, ["dns"]);
    const archived = await inArchive(s3, dir.path, "dns", v!.archive!.key);
    expect({ same: archived.same, events: archived.events, lines: v!.lines }).toEqual({
      same: true,
      events: [
        `[archive] upload to s3://${s3.bucket}/KEY failed: ${unresolved}; retrying with backoff (at most 1s apart) until it succeeds`,
      ],
      lines: lines,
    });
  });
});
