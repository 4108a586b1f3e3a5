// A job's end on a real state and real files: window, hooks, settled, archive queue — in that order, every time.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Job } from "../../src/core/job.ts";
import { createLifecycle } from "../../src/jobs/lifecycle.ts";
import { silentLogger } from "../../src/log.ts";
import { setupJobs } from "../support/jobs.ts";
import { tempDir } from "../support/server.ts";

const line = (i: number) => ({ stream: "stdout" as const, line: `w-${i} ${"p".repeat(200)}` });

describe("lifecycle", () => {
  test("a job's end runs window → hooks → settled → archive queue, each seeing what the one before did", async () => {
    using dir = tempDir();
    // A 4 KiB cap: past 2 KiB lines go to the window.
    await using t = await setupJobs(dir.path, { maxJobBytes: 4096 });
    const order: string[] = [];
    const logLines = () => readFileSync(join(dir.path, "j.jsonl"), "utf8").trimEnd().split("\n").length;
    const lifecycle = createLifecycle({
      registry: t.registry,
      jobs: t.state.jobs,
      store: t.store,
      events: t.events,
      cap: t.cap,
      hooks: async (job: Job) => {
        order.push(`hooks: ${job.status}, ${logLines()} lines in the log`);
      },
      archive: {
        enqueue: async (job: Job) => {
          order.push(`archive: settled ${job.settled_at !== null}, ${job.line_count} lines`);
        },
      },
      log: silentLogger,
    });
    t.events.on("terminal", () => {
      order.push("terminal");
    });
    t.events.on("cap.released", (e) => {
      order.push(`window released, ${e.elided_lines} elided`);
    });
    t.events.on("settled", (e) => {
      order.push(`settled: ${e.job.line_count} lines`);
    });
    for (let b = 0; b < 10; b++)
      await t.registry.push(
        "j",
        "s",
        Array.from({ length: 4 }, (_, i) => line(b * 4 + i)),
        null,
      );
    const done = await lifecycle.complete("j", "completed", null);
    await lifecycle.idle();
    const n = logLines();
    expect([done.changed, order.slice(0, 2), order.slice(2)]).toEqual([
      true,
      ["terminal", expect.stringMatching(/^window released, \d+ elided$/)],
      [`hooks: completed, ${n} lines in the log`, `settled: ${n} lines`, `archive: settled true, ${n} lines`],
    ]);
  });

  test("completing again with the same status changes nothing; another status is a 409", async () => {
    using dir = tempDir();
    await using t = await setupJobs(dir.path);
    await t.registry.push("j", "s", [line(0)], null);
    const first = await t.lifecycle.complete("j", "failed", "exit 1");
    const same = await t.lifecycle.complete("j", "failed", "exit 1");
    const other = await t.lifecycle
      .complete("j", "completed", null)
      .catch((e) => [e.status, e.code, e.message]);
    expect([first.changed, same.changed, same.job.error, other]).toEqual([
      true,
      false,
      "exit 1",
      [409, "already_finished", "job j already ended as failed; cannot mark it completed"],
    ]);
  });

  test("hooks that throw become a server event, and the job still settles", async () => {
    using dir = tempDir();
    await using t = await setupJobs(dir.path);
    const lifecycle = createLifecycle({
      registry: t.registry,
      jobs: t.state.jobs,
      store: t.store,
      events: t.events,
      hooks: async () => {
        throw new Error("hook runner crashed");
      },
      log: silentLogger,
    });
    await lifecycle.complete("j", "completed", null);
    await lifecycle.idle();
    const log = readFileSync(join(dir.path, "j.jsonl"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect([(await t.registry.get("j"))?.settled_at !== null, log.map((l) => [l.step, l.line])]).toEqual([
      true,
      [["_server", "[server] completion step failed: hook runner crashed"]],
    ]);
  });

  test("terminal jobs left unsettled by a restart are settled again", async () => {
    using dir = tempDir();
    await using t = await setupJobs(dir.path);
    await t.registry.push("j", "s", [line(0)], null);
    // The process died after the job ended and before its completion work finished.
    await t.state.jobs.finish("j", "completed", null, Date.now());
    await t.lifecycle.resumeUnsettled();
    expect((await t.registry.get("j"))?.settled_at).not.toBeNull();
  });
});
