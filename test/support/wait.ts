// Test support: wait for a condition with a bounded deadline that fails loudly.
import type { EventName, Events } from "../../src/events.ts";

/**
 * The default deadline of every wait in the test support. It only turns a hang into a loud failure, so it is
 * generous: CI runs the suite on a busy 2-core machine, where an event that takes 50 ms when idle can take
 * seconds. It is never what a test measures; a test about timing bounds its own figures.
 */
export const DEADLINE_MS = 30_000;

/**
 * Re-checks `check` (on every macrotask turn, at most every `everyMs`) until it returns a value other
 * than undefined/false, and resolves with it; rejects naming `what` after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = DEADLINE_MS,
  everyMs = 5,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Resolves with `check`'s value once it is neither undefined nor false, checking at once and again after every
 * `name` event the server emits (in this process): no polling. Rejects naming `what` after `timeoutMs`.
 */
export async function untilEvent<T>(
  events: Events,
  name: EventName | readonly EventName[],
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let fired = 0;
  let wake: (() => void) | null = null;
  const offs = (typeof name === "string" ? [name] : name).map((n) =>
    events.on(n, () => {
      fired++;
      wake?.();
    }),
  );
  try {
    for (;;) {
      const seen = fired;
      const value = await check();
      if (value !== undefined && value !== false) return value;
      if (fired !== seen) continue;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      const { promise, resolve } = Promise.withResolvers<void>();
      wake = resolve;
      const timer = setTimeout(resolve, left);
      await promise;
      clearTimeout(timer);
      wake = null;
    }
  } finally {
    for (const off of offs) off();
  }
}

/**
 * Waits until the wall clock reads later than `ms`, so that whatever happens next is stamped in a later
 * millisecond than `ms` — a test comparing times against a cutoff needs that strict order, and two events a
 * few statements apart often share a millisecond.
 */
export function clockPast(ms: number): Promise<number> {
  return waitFor(
    `the clock to pass ${new Date(ms).toISOString()}`,
    () => Date.now() > ms && Date.now(),
    DEADLINE_MS,
    1,
  );
}
