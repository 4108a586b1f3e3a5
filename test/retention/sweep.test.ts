// The retention sweep over a real state and real files, driven by an injected clock: what goes, what stays, in pages.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DAY_MS } from "../../src/core/policy.ts";
import { silentLogger } from "../../src/log.ts";
import { createRetention } from "../../src/retention/sweep.ts";
import { setupJobs } from "../support/jobs.ts";
import { tempDir } from "../support/server.ts";

describe("retention sweep", () => {
  test("without an archive, jobs ended before local_days go whole — file, row, keys — in pages; the rest stay", async () => {
    let now = Date.parse("2025-02-01T00:00:00.000Z");
    using dir = tempDir();
    await using t = await setupJobs(dir.path, { clock: () => now });
    const end = async (id: string) => {
      await t.registry.push(id, "s", [{ stream: "stdout", line: id }], `k-${id}`);
      await t.lifecycle.complete(id, "completed", null);
      await t.lifecycle.idle();
    };
    for (const id of ["old-1", "old-2", "old-3"]) await end(id);
    now += 5 * DAY_MS;
    await end("young");
    await t.registry.push("running", "s", [{ stream: "stdout", line: "x" }], null);
    const swept: unknown[] = [];
    t.events.on("retention.deleted", (e) => {
      swept.push(`${e.kind} ${e.job}`);
    });
    const retention = createRetention({
      state: t.state,
      registry: t.registry,
      store: t.store,
      events: t.events,
      log: silentLogger,
      config: { local_days: 3, sweep_interval: 60_000, batch_size: 2 },
      archive: null,
      clock: () => now,
    });
    const report = await retention.sweep(now + 1);
    expect({
      report: [report.rows_deleted, report.files_deleted, report.errors],
      swept,
      files: ["old-1", "old-2", "old-3", "young", "running"].map((id) =>
        existsSync(join(dir.path, `${id}.jsonl`)),
      ),
      rows: await Promise.all(
        ["old-1", "young", "running"].map(async (id) => (await t.registry.get(id)) !== null),
      ),
      key: await t.state.idempotency.get("old-1", "k-old-1"),
    }).toEqual({
      report: [3, 3, 0],
      swept: ["job old-1", "job old-2", "job old-3"],
      files: [false, false, false, true, true],
      rows: [false, true, true],
      key: null,
    });
  });

  test("a push arriving while a job is swept lands before the sweep (and goes with it) or finds no job: never a half", async () => {
    let now = Date.parse("2025-02-01T00:00:00.000Z");
    using dir = tempDir();
    await using t = await setupJobs(dir.path, { clock: () => now });
    await t.registry.push("j", "s", [{ stream: "stdout", line: "a" }], null);
    await t.lifecycle.complete("j", "completed", null);
    await t.lifecycle.idle();
    now += 10 * DAY_MS;
    const retention = createRetention({
      state: t.state,
      registry: t.registry,
      store: t.store,
      events: t.events,
      log: silentLogger,
      config: { local_days: 3, sweep_interval: 60_000, batch_size: 10 },
      archive: null,
      clock: () => now,
    });
    const [report, late] = await Promise.all([
      retention.sweep(now),
      t.registry.push("j", "s", [{ stream: "stdout", line: "late" }], null),
    ]);
    const job = await t.registry.get("j");
    // Either order is correct; what may never be is a row whose file is gone.
    const consistent =
      job === null ? !existsSync(join(dir.path, "j.jsonl")) : existsSync(join(dir.path, "j.jsonl"));
    expect([report.errors, late.next - late.first, consistent]).toEqual([0, 1, true]);
  });
});
