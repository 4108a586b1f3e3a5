// The stale-job sweep, driven by an injected clock: only running jobs silent for stale_after are failed.
import { describe, expect, test } from "bun:test";
import { openDb } from "../../src/jobs/db.ts";
import { createRecovery } from "../../src/jobs/recovery.ts";
import { createJobs } from "../../src/jobs/registry.ts";
import { silentLogger } from "../../src/log.ts";
import { createLogStore } from "../../src/logs/store.ts";
import { parseJsonl, tempDir } from "../support/server.ts";

const MIN = 60_000;

function setup(dir: string) {
  let now = Date.parse("2025-02-12T10:00:00.000Z");
  const clock = () => now;
  const db = openDb(`${dir}/state.db`);
  const store = createLogStore({ dir, maxOpenFiles: 8, fsync: false });
  const jobs = createJobs({ db, store, maxLineBytes: 1 << 20, clock });
  const recovery = createRecovery({
    db,
    jobs,
    log: silentLogger,
    staleAfter: 15 * MIN,
    interval: MIN,
    clock,
  });
  const line = (text: string) => [{ stream: "stdout" as const, line: text }];
  return {
    db,
    jobs,
    recovery,
    line,
    advance: (ms: number) => {
      now += ms;
    },
    [Symbol.dispose]: () => {
      store.closeAll();
      db.close();
    },
  };
}

describe("recovery sweep", () => {
  test("a running job silent for stale_after is failed with one server event; active and pending jobs are not", async () => {
    using dir = tempDir();
    using t = setup(dir.path);
    t.jobs.push("silent", "build", t.line("started"), null);
    t.jobs.push("chatty", "build", t.line("started"), null);
    t.jobs.push("beating", "build", t.line("started"), null);
    t.jobs.register("queued", { workspace: "w", task: "t" });

    t.advance(10 * MIN);
    t.jobs.push("chatty", "build", t.line("still here"), null);
    t.jobs.heartbeat("beating");
    expect(t.recovery.sweep()).toEqual([]);

    t.advance(5 * MIN + 1);
    expect(t.recovery.sweep()).toEqual(["silent"]);
    expect(t.recovery.sweep()).toEqual([]);
    await t.jobs.idle();

    const silent = t.jobs.get("silent")!;
    const log = parseJsonl(await Bun.file(`${dir.path}/silent.jsonl`).text());
    expect({
      statuses: ["silent", "chatty", "beating", "queued"].map((id) => t.jobs.get(id)!.status),
      error: silent.error,
      settled: silent.settled_at !== null,
      last: log.at(-1),
    }).toEqual({
      statuses: ["failed", "running", "running", "pending"],
      error: "no activity from workers for 15m",
      settled: true,
      last: {
        ts: "2025-02-12T10:15:00.001Z",
        stream: "stderr",
        step: "_server",
        line: "[recovery] no activity from workers for 15m; marking job failed",
      },
    });
  });

  test("after a restart, silence counts from the server's start, not from before it", () => {
    using dir = tempDir();
    using t = setup(dir.path);
    t.jobs.push("old", "build", t.line("started"), null);
    t.advance(60 * MIN);
    // A new recovery (a restarted server) at this instant gives workers stale_after to come back.
    const restarted = createRecovery({
      db: t.db,
      jobs: t.jobs,
      log: silentLogger,
      staleAfter: 15 * MIN,
      interval: MIN,
      clock: () => Date.parse("2025-02-12T11:00:00.000Z"),
    });
    expect(restarted.sweep(Date.parse("2025-02-12T11:14:00.000Z"))).toEqual([]);
    expect(restarted.sweep(Date.parse("2025-02-12T11:15:00.001Z"))).toEqual(["old"]);
  });
});
