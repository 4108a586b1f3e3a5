// The stale-job sweep, driven by an injected clock: only running jobs silent for stale_after are failed.
import { describe, expect, test } from "bun:test";
import { createRecovery } from "../../src/jobs/recovery.ts";
import { silentLogger } from "../../src/log.ts";
import { setupJobs } from "../support/jobs.ts";
import { parseJsonl, tempDir } from "../support/server.ts";

const MIN = 60_000;

async function setup(dir: string) {
  let now = Date.parse("2025-02-12T10:00:00.000Z");
  const clock = () => now;
  const t = await setupJobs(dir, { clock });
  const recoveryOf = (at: () => number) =>
    createRecovery({
      jobs: t.state.jobs,
      registry: t.registry,
      lifecycle: t.lifecycle,
      events: t.events,
      log: silentLogger,
      staleAfter: 15 * MIN,
      interval: MIN,
      clock: at,
    });
  const line = (text: string) => [{ stream: "stdout" as const, line: text }];
  return {
    ...t,
    jobs: t.registry,
    recovery: recoveryOf(clock),
    recoveryOf,
    line,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("recovery sweep", () => {
  test("a running job silent for stale_after is failed with one server event; active and pending jobs are not", async () => {
    using dir = tempDir();
    await using t = await setup(dir.path);
    await t.jobs.push("silent", "build", t.line("started"), null);
    await t.jobs.push("chatty", "build", t.line("started"), null);
    await t.jobs.push("beating", "build", t.line("started"), null);
    await t.jobs.register("queued", { workspace: "w", task: "t" });

    t.advance(10 * MIN);
    await t.jobs.push("chatty", "build", t.line("still here"), null);
    await t.jobs.heartbeat("beating");
    expect(await t.recovery.sweep()).toEqual([]);

    t.advance(5 * MIN + 1);
    expect(await t.recovery.sweep()).toEqual(["silent"]);
    expect(await t.recovery.sweep()).toEqual([]);
    await t.lifecycle.idle();

    const silent = (await t.jobs.get("silent"))!;
    const log = parseJsonl(await Bun.file(`${dir.path}/silent.jsonl`).text());
    expect({
      statuses: await Promise.all(
        ["silent", "chatty", "beating", "queued"].map(async (id) => (await t.jobs.get(id))!.status),
      ),
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

  test("after a restart, silence counts from the server's start, not from before it", async () => {
    using dir = tempDir();
    await using t = await setup(dir.path);
    await t.jobs.push("old", "build", t.line("started"), null);
    t.advance(60 * MIN);
    // A new recovery (a restarted server) at this instant gives workers stale_after to come back.
    const restarted = t.recoveryOf(() => Date.parse("2025-02-12T11:00:00.000Z"));
    expect(await restarted.sweep(Date.parse("2025-02-12T11:14:00.000Z"))).toEqual([]);
    expect(await restarted.sweep(Date.parse("2025-02-12T11:15:00.001Z"))).toEqual(["old"]);
  });
});
