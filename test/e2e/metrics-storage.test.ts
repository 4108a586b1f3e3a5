// Local storage metrics on the real server: a real full disk (a small tmpfs) and its recovery, the stale job
// recovery could not fail while the disk was full and failed once it could, and the log files held open.
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pick, scrape } from "../support/metrics.ts";
import { makeLines, startTestServer, tempDir } from "../support/server.ts";
import { canMount, mountTmpfs } from "../support/tmpfs.ts";
import { untilEvent } from "../support/wait.ts";

/** Writes `path` until the file system says ENOSPC. */
function fill(path: string): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  } finally {
    closeSync(fd);
  }
}

describe("storage metrics", () => {
  test.skipIf(!canMount)(
    "a full disk shows as disk full until a write succeeds; recovery's failures while it lasts are counted",
    async () => {
      using fs = mountTmpfs("1m")!;
      using state = tempDir();
      const filler = join(fs.path, "filler");
      await using s = await startTestServer(
        {
          log_storage: { local_dir: fs.path, db_path: join(state.path, "db") },
          recovery: { stale_after: "1s", sweep_interval: "20ms" },
        },
        { dir: fs.path },
      );
      // A running job (recovery fails only those) whose log fills its 4 KiB page exactly, so that the next
      // line needs a page of its own; then the disk fills.
      const ts = "2025-02-12T10:56:45.123Z";
      const overhead = Buffer.byteLength(JSON.stringify({ ts, stream: "stdout", step: "b", line: "" })) + 1;
      const page = [{ ts, stream: "stdout", line: "x".repeat(4096 - overhead) }];
      expect((await s.post("/worker/jobs/j/logs", { step_name: "b", lines: page })).status).toBe(200);
      expect(Bun.file(join(fs.path, "j.jsonl")).size).toBe(4096);
      const before = await scrape(s);
      fill(filler);
      const refused = await s.post("/worker/jobs/j/logs", { step_name: "b", lines: makeLines(100) });
      expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([507, "disk_full"]);
      const full = await scrape(s);
      // The job is stale a second after its last push; marking it failed needs a server event in its log.
      let errors = 0;
      let failed = 0;
      s.events.on("recovery.error", () => void errors++);
      s.events.on("recovery.failed", () => void failed++);
      await untilEvent(s.events, "recovery.error", "recovery to fail on the full disk", () => errors >= 1);
      const stuck = await scrape(s);
      rmSync(filler);
      await untilEvent(s.events, "recovery.failed", "recovery to fail the job", () => failed === 1);
      const after = await scrape(s);

      const gauges = ["stroem_logs_storage_failing", "stroem_logs_storage_disk_full"];
      expect([pick(before, gauges), pick(full, gauges), pick(after, gauges)]).toEqual([
        { stroem_logs_storage_failing: 0, stroem_logs_storage_disk_full: 0 },
        { stroem_logs_storage_failing: 1, stroem_logs_storage_disk_full: 1 },
        { stroem_logs_storage_failing: 0, stroem_logs_storage_disk_full: 0 },
      ]);
      expect({
        refusals: full.get('stroem_logs_push_refusals_total{code="disk_full"}'),
        refused: full.get('stroem_logs_pushes_total{result="refused"}'),
        errorsWhileFull: stuck.get("stroem_logs_recovery_errors_total")! >= 1,
        failedWhileFull: stuck.get("stroem_logs_recovery_failed_jobs_total"),
        recovered: after.get("stroem_logs_recovery_failed_jobs_total"),
        ended: after.get('stroem_logs_jobs_ended_total{status="failed"}'),
      }).toEqual({
        refusals: 1,
        refused: 1,
        errorsWhileFull: true,
        failedWhileFull: 0,
        recovered: 1,
        ended: 1,
      });
    },
  );

  test("the log files held open are counted against limits.max_open_files", async () => {
    await using s = await startTestServer({ limits: { max_open_files: 2 } });
    const open = async () =>
      pick(await scrape(s), ["stroem_logs_open_log_files", "stroem_logs_open_log_files_limit"]);
    const seen = [await open()];
    for (const id of ["f1", "f2", "f3"]) {
      await s.post(`/worker/jobs/${id}/logs`, { step_name: "b", lines: makeLines(1) });
      seen.push(await open());
    }
    expect(seen.map((o) => o.stroem_logs_open_log_files)).toEqual([0, 1, 2, 2]);
    expect(seen.every((o) => o.stroem_logs_open_log_files_limit === 2)).toBe(true);
  });
});
