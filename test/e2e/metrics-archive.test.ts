// Archive metrics on the real server with a real local archive directory: the queue by state (kept from the
// events, seeded from the database at start), attempts, failures, bytes, latency, restores, reachability.
import { describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pick, type Samples, scrape } from "../support/metrics.ts";
import { makeLines, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";

type ArchiveView = { state: string; key: string; bytes: number; log_bytes: number } | null;

async function job(s: TestServer, id: string, workspace: string) {
  await s.fetch(`/api/jobs/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ workspace, task: "t", created_at: "2025-02-12T10:56:45Z" }),
  });
  await s.post(`/worker/jobs/${id}/logs`, { step_name: "b", lines: makeLines(50, id) });
  await s.post(`/worker/jobs/${id}/complete`, { status: "completed" });
}

const archiveOf = async (s: TestServer, id: string) =>
  ((await (await s.fetch(`/api/jobs/${id}`)).json()) as { archive: ArchiveView }).archive;

const queue = (m: Samples) =>
  pick(m, [
    'stroem_logs_archive_queue_jobs{state="pending"}',
    'stroem_logs_archive_queue_jobs{state="uploading"}',
    'stroem_logs_archive_queue_jobs{state="retrying"}',
  ]);
const depth = (pending: number, uploading: number, retrying: number) => ({
  'stroem_logs_archive_queue_jobs{state="pending"}': pending,
  'stroem_logs_archive_queue_jobs{state="uploading"}': uploading,
  'stroem_logs_archive_queue_jobs{state="retrying"}': retrying,
});

describe("archive metrics", () => {
  test("uploads, failures, restores and the queue by state, which a restart picks up from the database", async () => {
    using dir = tempDir();
    using archive = tempDir();
    // A file where workspace "blocked" needs a directory: its uploads fail (ENOTDIR) and are retried.
    writeFileSync(join(archive.path, "blocked"), "not a directory");
    const config = {
      log_storage: {
        archive: { type: "local", path: archive.path },
        archive_retry: { initial: "1h", max: "1h" },
        rearchive_delay: "1h",
        delete_local_after_archive: true,
      },
    };
    let failed = 0;
    let uploaded = 0;
    {
      await using s = await startTestServer(config, { dir: dir.path });
      s.events.on("archive.failed", () => void failed++);
      s.events.on("archive.uploaded", () => void uploaded++);
      await job(s, "a", "blocked");
      await job(s, "b", "ok");
      await job(s, "c", "ok");
      await untilEvent(
        s.events,
        ["archive.failed", "archive.uploaded"],
        "three attempts",
        () => failed + uploaded === 3,
      );
      const b = (await archiveOf(s, "b"))!;
      const c = (await archiveOf(s, "c"))!;
      const m = await scrape(s);
      expect<Record<string, unknown>>({
        queue: queue(m),
        ...pick(m, [
          "stroem_logs_archive_attempts_total",
          "stroem_logs_archive_failures_total",
          "stroem_logs_archive_uploads_total",
          "stroem_logs_archive_uploaded_bytes_total",
          "stroem_logs_archive_log_bytes_total",
          'stroem_logs_archive_attempt_duration_seconds_count{result="uploaded"}',
          'stroem_logs_archive_attempt_duration_seconds_count{result="failed"}',
          "stroem_logs_archive_local_files_deleted_total",
          "stroem_logs_archive_target_reachable",
        ]),
      }).toEqual({
        queue: depth(0, 0, 1),
        stroem_logs_archive_attempts_total: 3,
        stroem_logs_archive_failures_total: 1,
        stroem_logs_archive_uploads_total: 2,
        stroem_logs_archive_uploaded_bytes_total: b.bytes + c.bytes,
        stroem_logs_archive_log_bytes_total: b.log_bytes + c.log_bytes,
        'stroem_logs_archive_attempt_duration_seconds_count{result="uploaded"}': 2,
        'stroem_logs_archive_attempt_duration_seconds_count{result="failed"}': 1,
        stroem_logs_archive_local_files_deleted_total: 2,
        // A write that failed on the target's side of a path is no outage of the target.
        stroem_logs_archive_target_reachable: 1,
      });

      // A late line finds b's log removed: refused while it is restored from the archive, then written, and b
      // is queued again. c's archive object is gone, so its restore fails.
      let restores = 0;
      s.events.on("archive.restored", () => void restores++);
      s.events.on("archive.restore_failed", () => void restores++);
      const late = () => ({ step_name: "late", lines: makeLines(1) });
      expect((await s.post("/worker/jobs/b/logs", late())).status).toBe(503);
      await untilEvent(s.events, "archive.restored", "b's restore", () => restores === 1);
      expect((await s.post("/worker/jobs/b/logs", late())).status).toBe(200);
      rmSync(join(archive.path, c.key));
      const refused = await s.post("/worker/jobs/c/logs", late());
      expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([
        503,
        "restoring_local_log",
      ]);
      await untilEvent(s.events, "archive.restore_failed", "c's restore", () => restores === 2);
      const after = await scrape(s);
      expect<Record<string, unknown>>({
        queue: queue(after),
        ...pick(after, [
          'stroem_logs_archive_restores_total{result="ok"}',
          'stroem_logs_archive_restores_total{result="failed"}',
          'stroem_logs_push_refusals_total{code="restoring_local_log"}',
        ]),
      }).toEqual({
        queue: depth(1, 0, 1),
        'stroem_logs_archive_restores_total{result="ok"}': 1,
        'stroem_logs_archive_restores_total{result="failed"}': 1,
        'stroem_logs_push_refusals_total{code="restoring_local_log"}': 2,
      });
    }

    // After a restart the gauge starts from the database: a still retrying, b pending until it goes up again.
    await using s = await startTestServer(config, { dir: dir.path });
    await untilEvent(
      s.events,
      "archive.uploaded",
      "b's new upload",
      async () => (await archiveOf(s, "b"))?.state === "uploaded",
    );
    const m = await scrape(s);
    expect(queue(m)).toEqual(depth(0, 0, 1));
  });

  test("the target's reachability follows the probe: 0 while the archive directory cannot be made, 1 once it can", async () => {
    using parent = tempDir();
    const blocker = join(parent.path, "blocker");
    writeFileSync(blocker, "a file where the archive's parent directory should be");
    const problems: Array<string | null> = [];
    await using s = await startTestServer({
      log_storage: {
        archive: { type: "local", path: join(blocker, "archive") },
        archive_retry: { initial: "20ms", max: "50ms" },
      },
    });
    s.events.on("archive.target", (e) => void problems.push(e.problem));
    await untilEvent(s.events, "archive.target", "the probe to fail", () => problems.length >= 1);
    const down = await scrape(s);
    rmSync(blocker);
    mkdirSync(blocker);
    await untilEvent(s.events, "archive.target", "the probe to succeed", () => problems.at(-1) === null);
    const up = await scrape(s);
    expect([
      down.get("stroem_logs_archive_target_reachable"),
      up.get("stroem_logs_archive_target_reachable"),
    ]).toEqual([0, 1]);
  });
});
