// A full disk (a real ENOSPC on a small tmpfs): 507, no torn line, the server stays up and recovers by itself.
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { makeLines, parseJsonl, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { canMount, mountTmpfs } from "../support/tmpfs.ts";
import { DEADLINE_MS, untilEvent } from "../support/wait.ts";

/** Pushes keyed 100-line batches b0, b1, … until one is refused: the acknowledged ones, the refusal, its number. */
async function pushUntilRefused(s: TestServer) {
  const acked: Array<{ batch: number; first: number; next: number }> = [];
  for (let batch = 0; batch < 1000; batch++) {
    const r = await s.post(
      "/worker/jobs/j/logs",
      { step_name: "s", lines: makeLines(100, `b${batch}`) },
      { "idempotency-key": `b${batch}` },
    );
    if (r.status !== 200) return { acked, refused: r, batch };
    acked.push({ batch, ...((await r.json()) as { first: number; next: number }) });
  }
  throw new Error("1,000 batches and the disk is still not full");
}

describe("disk full", () => {
  test.skipIf(!canMount)(
    "pushes answer 507 with nothing half-written, readyz says so, and writes resume once space is back",
    async () => {
      using fs = mountTmpfs("1m")!;
      using state = tempDir();
      const filler = join(fs.path, "filler");
      writeFileSync(filler, Buffer.alloc(256 * 1024));
      await using s = await startTestServer(
        { log_storage: { local_dir: fs.path, db_path: join(state.path, "db") } },
        { dir: fs.path },
      );

      const { acked, refused, batch } = await pushUntilRefused(s);
      expect([refused.status, refused.headers.get("retry-after"), await refused.json()]).toEqual([
        507,
        "30",
        { error: "no space left to write the log of job j; retry later", code: "disk_full" },
      ]);
      const ready = await s.fetch("/readyz");
      expect([ready.status, ((await ready.json()) as { problems: string[] }).problems]).toEqual([
        503,
        ["local_dir: disk_full: no space left to write the log of job j; retry later"],
      ]);

      // Nothing torn: the file holds exactly the acknowledged batches, and the counts agree.
      const lines = parseJsonl(await Bun.file(join(fs.path, "j.jsonl")).text());
      expect(lines.map((l) => l.line)).toEqual(
        acked.flatMap((a) => makeLines(100, `b${a.batch}`).map((l) => l.line)),
      );
      const job = (await (await s.fetch("/api/jobs/j")).json()) as { lines: number };
      expect(job.lines).toBe(lines.length);

      // Space comes back: the refused batch, retried with its key, is written once; the server is ready again.
      rmSync(filler);
      // Readiness recovers by itself (a node pulled by its load balancer gets no pushes to clear it).
      expect((await s.fetch("/readyz")).status).toBe(200);
      const retry = await s.post(
        "/worker/jobs/j/logs",
        { step_name: "s", lines: makeLines(100, `b${batch}`) },
        { "idempotency-key": `b${batch}` },
      );
      expect(await retry.json()).toEqual({ status: "ok", first: lines.length, next: lines.length + 100 });
      expect((await s.fetch("/readyz")).status).toBe(200);
      const after = parseJsonl(await Bun.file(join(fs.path, "j.jsonl")).text());
      expect(after.length).toBe(lines.length + 100);
    },
  );

  test.skipIf(!canMount)(
    "a read-only local_dir answers 503 storage_unwritable, and writes resume once it is writable",
    async () => {
      using fs = mountTmpfs("1m")!;
      using state = tempDir();
      await using s = await startTestServer(
        { log_storage: { local_dir: fs.path, db_path: join(state.path, "db") } },
        { dir: fs.path },
      );
      expect((await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1, "a") })).status).toBe(
        200,
      );
      await s.post("/worker/jobs/j/complete", { status: "completed" }); // closes the handle: the next write reopens
      expect(Bun.spawnSync(["mount", "-o", "remount,ro", fs.path]).exitCode).toBe(0);
      const refused = await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1, "b") });
      expect([refused.status, refused.headers.get("retry-after"), await refused.json()]).toEqual([
        503,
        "30",
        { error: "log directory is not writable (EROFS) for job j", code: "storage_unwritable" },
      ]);
      expect((await s.fetch("/readyz")).status).toBe(503);
      expect(Bun.spawnSync(["mount", "-o", "remount,rw", fs.path]).exitCode).toBe(0);
      expect((await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1, "c") })).status).toBe(
        200,
      );
      expect(parseJsonl(await Bun.file(join(fs.path, "j.jsonl")).text()).map((l) => l.line)).toEqual([
        "a-0",
        "c-0",
      ]);
    },
  );

  test.skipIf(!canMount)(
    "with the database on the same full disk (the default layout): 507, no corruption, acknowledged lines kept",
    async () => {
      using fs = mountTmpfs("1m")!;
      const filler = join(fs.path, "filler");
      writeFileSync(filler, Buffer.alloc(256 * 1024));
      await using s = await startTestServer({}, { dir: fs.path });
      const pushed = await pushUntilRefused(s);
      const { refused, batch } = pushed;
      const acked = pushed.acked.map((a) => a.batch);
      const refusedBody = (await refused.json()) as { code: string; error: string };
      console.log(`disk full with the database beside the logs: ${refusedBody.error}`);
      expect([refused.status, refusedBody.code]).toEqual([507, "disk_full"]);
      expect((await s.fetch("/readyz")).status).toBe(503);
      rmSync(filler);
      // The refused batch retried with its key, then two more: each exactly once, in order.
      for (const b of [batch, batch + 1, batch + 2]) {
        const r = await s.post(
          "/worker/jobs/j/logs",
          { step_name: "s", lines: makeLines(100, `b${b}`) },
          { "idempotency-key": `b${b}` },
        );
        expect([b, r.status]).toEqual([b, 200]);
        acked.push(b);
      }
      const want = acked.flatMap((b) => makeLines(100, `b${b}`).map((l) => l.line));
      const read = await (await s.fetch("/api/jobs/j/logs?format=ndjson")).text();
      expect(parseJsonl(read).map((l) => l.line)).toEqual(want);
      expect(parseJsonl(await Bun.file(join(fs.path, "j.jsonl")).text()).map((l) => l.line)).toEqual(want);
      expect((await s.fetch("/readyz")).status).toBe(200);
    },
  );

  test.skipIf(!canMount)(
    "a size-capped job ending on a full disk: the server stays up, and the window is added once space is back",
    async () => {
      using fs = mountTmpfs("1m")!;
      using state = tempDir();
      await using s = await startTestServer(
        {
          log_storage: { local_dir: fs.path, db_path: join(state.path, "db") },
          limits: { max_job_bytes: "64KiB" },
        },
        { dir: fs.path },
      );
      for (let b = 0; b < 30; b++) {
        const r = await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(100, `b${b}`) });
        expect(r.status).toBe(200);
      }
      // Fill the disk: appending the held window to the log at the end will fail.
      const filler = join(fs.path, "filler");
      const fd = openSync(filler, "w");
      try {
        for (;;) writeSync(fd, Buffer.alloc(4096));
      } catch {
        // ENOSPC: the disk is full
      } finally {
        closeSync(fd);
      }
      expect((await s.post("/worker/jobs/j/complete", { status: "completed" })).status).toBe(200);
      await untilEvent(s.events, "server_event", "the failed append of the window to be reported", async () =>
        (await (await s.fetch("/api/jobs/j/steps/_server/logs?format=ndjson")).text()).includes(
          "appending the size-cap window failed",
        ),
      );
      // The job cannot settle while its window is held back; the server keeps answering meanwhile.
      expect((await s.fetch("/healthz")).status).toBe(200);
      expect(((await (await s.fetch("/api/jobs/j")).json()) as { settled: boolean }).settled).toBe(false);
      rmSync(filler);
      await untilEvent(
        s.events,
        "settled",
        "the job to settle once space is back",
        async () => ((await (await s.fetch("/api/jobs/j")).json()) as { settled: boolean }).settled,
        DEADLINE_MS,
      );
      const lines = parseJsonl(await (await s.fetch("/api/jobs/j/logs?format=ndjson")).text());
      expect(lines.at(-1)!.line).toBe("b29-99");
      const elided = Number(/elided (\d+) lines/.exec(lines.map((l) => l.line).join(" "))?.[1] ?? 0);
      expect(lines.filter((l) => l.step === "s").length + elided).toBe(3000);
    },
    60_000,
  );
});
