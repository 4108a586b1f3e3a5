// Test support: wait for a condition with a bounded deadline that fails loudly.
import type { EventName, Events } from "../../src/events.ts";

/**
 * Re-checks `check` (on every macrotask turn, at most every `everyMs`) until it returns a value other
 * than undefined/false, and resolves with it; rejects naming `what` after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
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
  timeoutMs = 10_000,
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
