// The live hub's state machine with in-memory sockets over a real registry and real files: backfill, live,
// back-pressure and catch-up, the end of a job, and a run committed while a viewer decides what to do next.
import { describe, expect, test } from "bun:test";
import type { Job } from "../../src/core/job.ts";
import { createLiveHub, type LiveSocket } from "../../src/live/hub.ts";
import { silentLogger } from "../../src/log.ts";
import { createReader } from "../../src/logs/read.ts";
import { setupJobs } from "../support/jobs.ts";
import { tempDir } from "../support/server.ts";

/** A socket that keeps what it was sent; `answer` decides each send's status (> 0 sent, -1 buffered, 0 dropped). */
function socket(answer: () => number = () => 1) {
  const frames: string[] = [];
  let closed: { code: number; reason: string } | null = null;
  const changed: Array<() => void> = [];
  const poke = () => {
    for (const f of changed.splice(0)) f();
  };
  const s: LiveSocket & {
    frames: string[];
    closed: () => { code: number; reason: string } | null;
    lines: () => string[];
    until: (what: string, ok: () => boolean) => Promise<void>;
  } = {
    frames,
    send(data) {
      const status = answer();
      if (status !== 0) frames.push(data);
      poke();
      return status;
    },
    close(code = 1000, reason = "") {
      closed = { code, reason };
      poke();
    },
    terminate() {
      closed = { code: 1006, reason: "" };
      poke();
    },
    getBufferedAmount: () => 0,
    closed: () => closed,
    lines: () =>
      frames
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).line),
    // Waits for the hub to send or close (it does both from the events it handles), bounded.
    async until(what, ok) {
      const deadline = Date.now() + 10_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        const { promise, resolve } = Promise.withResolvers<void>();
        changed.push(resolve);
        const timer = setTimeout(resolve, 1000);
        await promise;
        clearTimeout(timer);
      }
    },
  };
  return s;
}

const lines = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ stream: "stdout" as const, line: `l-${from + i}` }));
const numbered = (from: number, n: number) => Array.from({ length: n }, (_, i) => `l-${from + i}`);

async function setup(
  dir: string,
  getJob?: (get: (id: string) => Promise<Job | null>) => (id: string) => Promise<Job | null>,
) {
  const t = await setupJobs(dir);
  const reader = createReader({ store: t.store, getJob: t.registry.get, checkpoint: t.registry.checkpoint });
  const hub = createLiveHub({
    getJob: getJob ? getJob(t.registry.get) : t.registry.get,
    reader,
    events: t.events,
    log: silentLogger,
  });
  return { ...t, hub };
}

describe("live hub", () => {
  test("a viewer gets the backfill, then each committed run, then a normal close once the job is settled", async () => {
    using dir = tempDir();
    await using t = await setup(dir.path);
    await t.registry.push("j", "s", lines(0, 3), null);
    const ws = socket();
    t.hub.attach(ws, { job: "j", skipBackfill: false, filter: {} });
    await ws.until("the backfill", () => ws.lines().length === 3);
    await t.registry.push("j", "s", lines(3, 2), null);
    await ws.until("the live run", () => ws.lines().length === 5);
    await t.lifecycle.complete("j", "completed", null);
    await ws.until("the close", () => ws.closed() !== null);
    expect([ws.lines(), ws.closed(), t.hub.stats().viewers]).toEqual([
      numbered(0, 5),
      { code: 1000, reason: "job completed" },
      0,
    ]);
  });

  test("a viewer under back-pressure gets nothing until it drains, then catches up from the log: no gap, no repeat", async () => {
    using dir = tempDir();
    await using t = await setup(dir.path);
    let blocked = false;
    const ws = socket(() => (blocked ? 0 : 1));
    t.hub.attach(ws, { job: "j", skipBackfill: false, filter: {} });
    await t.registry.push("j", "s", lines(0, 2), null);
    await ws.until("the first run", () => ws.lines().length === 2);
    blocked = true;
    await t.registry.push("j", "s", lines(2, 2), null); // dropped: the viewer is blocked at line 2
    await t.registry.push("j", "s", lines(4, 2), null); // not even tried
    const whileBlocked = ws.lines().length;
    blocked = false;
    t.hub.drain(ws);
    await ws.until("the catch-up", () => ws.lines().length === 6);
    await t.registry.push("j", "s", lines(6, 1), null);
    await ws.until("live again", () => ws.lines().length === 7);
    expect([whileBlocked, ws.lines()]).toEqual([2, numbered(0, 7)]);
  });

  test("a run committed while a viewer reads the job's end to decide what next still reaches it", async () => {
    using dir = tempDir();
    let calls = 0;
    const reached = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    // The hub's second read of the job (its decision after the backfill) waits until a run was committed.
    await using t = await setup(dir.path, (get) => async (id) => {
      const job = await get(id);
      if (++calls === 2) {
        reached.resolve();
        await gate.promise;
      }
      return job;
    });
    await t.registry.push("j", "s", lines(0, 2), null);
    const ws = socket();
    t.hub.attach(ws, { job: "j", skipBackfill: false, filter: {} });
    await reached.promise;
    await t.registry.push("j", "s", lines(2, 3), null);
    gate.resolve();
    await ws.until("the run committed during the decision", () => ws.lines().length === 5);
    expect(ws.lines()).toEqual(numbered(0, 5));
  });

  test("skip_backfill starts at the current end; a filtered viewer gets only its step", async () => {
    using dir = tempDir();
    await using t = await setup(dir.path);
    await t.registry.push("j", "a", lines(0, 3), null);
    const tail = socket();
    const step = socket();
    t.hub.attach(tail, { job: "j", skipBackfill: true, filter: {} });
    t.hub.attach(step, { job: "j", skipBackfill: false, filter: { step: "b" } });
    await t.registry.push("j", "b", lines(3, 2), null);
    await tail.until("the new run", () => tail.lines().length === 2);
    await step.until("step b", () => step.lines().length === 2);
    expect([tail.lines(), step.lines()]).toEqual([numbered(3, 2), numbered(3, 2)]);
  });
});
