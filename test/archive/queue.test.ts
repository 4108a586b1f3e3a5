// The archive queue's timing with a hand-driven attempt: slots, one attempt per job, retries, stop.
import { describe, expect, test } from "bun:test";
import { createQueue } from "../../src/archive/queue.ts";

/** Attempts that wait until the test finishes them, one by one. */
function attempts() {
  const started: string[] = [];
  const pending = new Map<string, Array<(again: number | null) => void>>();
  const signals: AbortSignal[] = [];
  const changed: Array<() => void> = [];
  return {
    started,
    signals,
    attempt(id: string, signal: AbortSignal): Promise<number | null> {
      started.push(id);
      signals.push(signal);
      const { promise, resolve } = Promise.withResolvers<number | null>();
      pending.set(id, [...(pending.get(id) ?? []), resolve]);
      signal.addEventListener("abort", () => resolve(null));
      for (const f of changed.splice(0)) f();
      return promise;
    },
    finish(id: string, again: number | null = null): void {
      pending.get(id)!.shift()!(again);
    },
    /** Resolves once `n` attempts have started (bounded). */
    async startedAt(n: number): Promise<void> {
      const deadline = Date.now() + 5000;
      while (started.length < n) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for attempt ${n} (${started.join(", ")})`);
        const { promise, resolve } = Promise.withResolvers<void>();
        changed.push(resolve);
        setTimeout(resolve, 500);
        await promise;
      }
    },
  };
}

describe("archive queue", () => {
  test("at most `concurrency` attempts run at once; the others start as slots free up, in order", async () => {
    const a = attempts();
    const q = createQueue({ attempt: a.attempt, concurrency: 2 });
    for (const id of ["a", "b", "c", "d"]) q.run(id);
    await a.startedAt(2);
    const first = [...a.started];
    a.finish("a");
    await a.startedAt(3);
    a.finish("b");
    await a.startedAt(4);
    a.finish("c");
    a.finish("d");
    await q.idle();
    expect([first, a.started]).toEqual([
      ["a", "b"],
      ["a", "b", "c", "d"],
    ]);
  });

  test("a job runs one attempt at a time: asking again while one runs starts nothing", async () => {
    const a = attempts();
    const q = createQueue({ attempt: a.attempt, concurrency: 4 });
    q.run("a");
    q.run("a");
    await a.startedAt(1);
    q.run("a");
    const busy = q.running("a");
    a.finish("a");
    await q.idle();
    expect([a.started, busy, q.running("a")]).toEqual([["a"], true, false]);
  });

  test("an attempt's answer times the next one; a later schedule replaces an earlier one", async () => {
    const a = attempts();
    const q = createQueue({ attempt: a.attempt, concurrency: 1 });
    q.run("a");
    await a.startedAt(1);
    a.finish("a", 1); // try again in 1 ms
    await a.startedAt(2);
    a.finish("a", null);
    q.schedule("b", 60_000);
    q.schedule("b", 0); // replaces the one a minute away
    await a.startedAt(3);
    a.finish("b");
    await q.idle();
    expect(a.started).toEqual(["a", "a", "b"]);
    await q.stop();
  });

  test("stop aborts running attempts, drops timed ones and starts no more", async () => {
    const a = attempts();
    const q = createQueue({ attempt: a.attempt, concurrency: 2 });
    q.run("a");
    q.schedule("b", 5);
    await a.startedAt(1);
    await q.stop();
    q.run("c");
    await Bun.sleep(20); // longer than b's timer: it must not fire
    expect([a.started, a.signals.map((s) => s.aborted), q.stopped]).toEqual([["a"], [true], true]);
  });
});
