// The event bus: listeners run in order after the emit, a failing one is logged and stops nothing.
import { describe, expect, test } from "bun:test";
import { createEvents } from "../src/events.ts";
import type { Logger } from "../src/log.ts";

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug: ${m}`),
    info: (m) => lines.push(`info: ${m}`),
    warn: (m) => lines.push(`warn: ${m}`),
    error: (m, e) => lines.push(`error: ${m}: ${(e as Error).message}`),
  };
}

const event = { job: "j", first: 0, next: 1 };

describe("events", () => {
  test("every listener runs, in subscription order, even after one throws; the throw is logged with its cause", () => {
    const log = capture();
    const events = createEvents(log);
    const seen: string[] = [];
    events.on("server_event", () => {
      seen.push("a");
    });
    events.on("server_event", () => {
      throw new Error("listener b broke");
    });
    events.on("server_event", (e) => {
      seen.push(`c:${e.job}`);
    });
    events.emit("server_event", event);
    expect([seen, log.lines]).toEqual([
      ["a", "c:j"],
      ['error: a listener of "server_event" failed; the change it reports is committed: listener b broke'],
    ]);
  });

  test("a listener's rejected promise is logged, not an unhandled rejection", async () => {
    const log = capture();
    const events = createEvents(log);
    const { promise, resolve } = Promise.withResolvers<void>();
    events.on("server_event", async () => {
      await Promise.resolve();
      queueMicrotask(resolve);
      throw new Error("async listener broke");
    });
    events.emit("server_event", event);
    await promise;
    await Promise.resolve();
    expect(log.lines).toEqual([
      'error: a listener of "server_event" failed; the change it reports is committed: async listener broke',
    ]);
  });

  test("a listener failing on every event is logged once a minute, with the count of the failures not logged", () => {
    const log = capture();
    let now = 0;
    const events = createEvents(log, () => now);
    events.on("server_event", () => {
      throw new Error("always");
    });
    for (let i = 0; i < 5; i++) events.emit("server_event", event);
    now = 60_000;
    events.emit("server_event", event);
    expect(log.lines).toEqual([
      'error: a listener of "server_event" failed; the change it reports is committed: always',
      'error: a listener of "server_event" failed (and 4 more failures since the last report); the change it reports is committed: always',
    ]);
  });

  test("an unsubscribed listener no longer runs; listened says whether anyone listens", () => {
    const events = createEvents(capture());
    let calls = 0;
    const off = events.on("server_event", () => {
      calls++;
    });
    const before = events.listened("server_event");
    events.emit("server_event", event);
    off();
    events.emit("server_event", event);
    expect([calls, before, events.listened("server_event"), events.listened("appended")]).toEqual([
      1,
      true,
      false,
      false,
    ]);
  });
});
