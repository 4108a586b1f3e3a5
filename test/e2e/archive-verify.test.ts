// Content verification of archives: a byte flipped on the way to S3 is caught, retried, and never costs the local copy.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { startS3 } from "../support/s3.ts";
import { makeLines, parseJsonl, startTestServer, type TestServer } from "../support/server.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";
import { untilEvent } from "../support/wait.ts";

type Archive = {
  state: string;
  key: string;
  attempts: number;
  last_error: string | null;
  log_bytes: number;
  local_deleted: boolean;
};
type JobView = { bytes: number; archive: Archive | null };

const view = async (s: TestServer, id: string) =>
  (await (await s.fetch(`/api/jobs/${id}`)).json()) as JobView;

async function readLog(s: TestServer, id: string): Promise<{ status: number; source: string; logs: string }> {
  const res = await s.fetch(`/api/jobs/${id}/logs`);
  const body = (await res.json()) as { source: string; logs: string };
  return { status: res.status, source: body.source, logs: body.logs };
}

describe("archive content verification", () => {
  test("a PUT body with one byte flipped in transit is not verified: retried, the local file kept, reads correct, archived intact once the path is clean", async () => {
    await using s3 = await startS3();
    await using proxy = await startTcpProxy({ host: "127.0.0.1", port: s3.port });
    proxy.corruptPuts = true;
    await using s = await startTestServer({
      log_storage: {
        archive: { ...s3.archive(), endpoint: proxy.endpoint },
        delete_local_after_archive: true,
        archive_retry: { initial: "50ms", max: "200ms" },
      },
    });
    const push = await s.post("/worker/jobs/flip/logs", { step_name: "build", lines: makeLines(3000, "f") });
    expect(push.status).toBe(200);
    expect((await s.post("/worker/jobs/flip/complete", { status: "completed" })).status).toBe(200);

    // Settles either way: today a corrupted upload would count as verified at its first attempt.
    const failing = await untilEvent(
      s.events,
      ["archive.uploaded", "archive.failed"],
      "the archive to be verified, or refused twice",
      async () => {
        const j = await view(s, "flip");
        const a = j.archive;
        return a?.state === "uploaded" || (a?.state === "retrying" && a.attempts >= 2) ? j : undefined;
      },
      20_000,
    );
    const path = join(s.dir, "flip.jsonl");
    const kept = existsSync(path);
    const local = kept ? readFileSync(path, "utf8") : "";
    const during = await readLog(s, "flip");
    const key = failing.archive!.key;
    const where = `s3://${s3.bucket}/${key}`;
    expect({
      state: failing.archive!.state,
      local_deleted: failing.archive!.local_deleted,
      last_error: failing.archive!.last_error,
      kept,
      during,
      corrupted: proxy.corrupted >= 2,
      unframed: proxy.unframed,
    }).toEqual({
      state: "retrying",
      local_deleted: false,
      last_error: expect.stringMatching(
        new RegExp(
          `^verification failed: ${where.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} holds (\\d+) bytes with sha-256 [0-9a-f]{64}, but the \\1 bytes compressed locally have sha-256 [0-9a-f]{64}$`,
        ),
      ) as unknown as string,
      kept: true,
      during: { status: 200, source: "local", logs: local },
      corrupted: true,
      unframed: 0,
    });

    // The path is clean again: the next attempt is verified, and only then is the local file removed.
    proxy.corruptPuts = false;
    const done = await untilEvent(
      s.events,
      "archive.uploaded",
      "the verified archive",
      async () => {
        const j = await view(s, "flip");
        return j.archive?.state === "uploaded" && j.archive.local_deleted ? j : undefined;
      },
      20_000,
    );
    const stored = gunzipSync((await s3.getRaw(key))!.bytes).toString();
    const after = await readLog(s, "flip");
    expect({
      attempts: done.archive!.attempts > failing.archive!.attempts,
      last_error: done.archive!.last_error,
      log_bytes: done.archive!.log_bytes,
      fileGone: !existsSync(path),
      stored: stored === local,
      after,
      events: parseJsonl(local)
        .filter((l) => l.step === "_server")
        .map((l) => l.line!.replace(/sha-256 [0-9a-f]{64}/g, "sha-256 H").replace(/\d+ bytes/g, "N bytes")),
    }).toEqual({
      attempts: true,
      last_error: null,
      log_bytes: Buffer.byteLength(local),
      fileGone: true,
      stored: true,
      after: { status: 200, source: "archive", logs: local },
      events: [
        `[archive] upload to ${where} failed: verification failed: ${where} holds N bytes with sha-256 H, but the N bytes compressed locally have sha-256 H; retrying with backoff (at most 200ms apart) until it succeeds`,
      ],
    });
  });

  test("an index flipped in transit is not verified either: the archive is retried and the local file kept until both objects match", async () => {
    await using s3 = await startS3();
    await using proxy = await startTcpProxy({ host: "127.0.0.1", port: s3.port });
    proxy.corruptPuts = true;
    proxy.corruptSuffix = ".idx";
    await using s = await startTestServer({
      log_storage: {
        archive: { ...s3.archive(), endpoint: proxy.endpoint },
        delete_local_after_archive: true,
        archive_retry: { initial: "50ms", max: "200ms" },
      },
    });
    expect(
      (await s.post("/worker/jobs/idx/logs", { step_name: "build", lines: makeLines(3000, "i") })).status,
    ).toBe(200);
    expect((await s.post("/worker/jobs/idx/complete", { status: "completed" })).status).toBe(200);
    const failing = await untilEvent(
      s.events,
      ["archive.uploaded", "archive.failed"],
      "the archive to be verified, or refused",
      async () => {
        const a = (await view(s, "idx")).archive;
        return a?.state === "uploaded" || (a?.state === "retrying" && a.attempts >= 1) ? a : undefined;
      },
      20_000,
    );
    const where = `s3://${s3.bucket}/${failing!.key}.idx`;
    const path = join(s.dir, "idx.jsonl");
    expect({
      state: failing!.state,
      kept: existsSync(path),
      last_error: failing!.last_error
        ?.replace(/sha-256 [0-9a-f]{64}/g, "sha-256 H")
        .replace(/\d+ bytes/g, "N bytes"),
    }).toEqual({
      state: "retrying",
      kept: true,
      last_error: `verification failed: ${where} holds N bytes with sha-256 H, but the N bytes compressed locally have sha-256 H`,
    });
    const local = readFileSync(path, "utf8");
    proxy.corruptPuts = false;
    await untilEvent(s.events, "archive.uploaded", "the verified archive", async () => {
      const a = (await view(s, "idx")).archive;
      return a?.state === "uploaded" && a.local_deleted ? a : undefined;
    });
    // The index now matches: a window is read with Range GETs, the same lines as the local file had.
    s3.requests.length = 0;
    const res = await s.fetch("/api/jobs/idx/logs?from=2990&limit=5");
    const body = (await res.json()) as { logs: string; source: string };
    await s3.settled();
    const archiveGets = s3.requests.filter(
      (r) => r.method === "GET" && r.path === `/${s3.bucket}/${failing!.key}`,
    );
    expect({
      logs: body.logs,
      source: body.source,
      ranged: archiveGets.length > 0 && archiveGets.every((r) => r.range !== null),
    }).toEqual({
      logs: `${local.split("\n").slice(2990, 2995).join("\n")}\n`,
      source: "archive",
      ranged: true,
    });
  });
});
