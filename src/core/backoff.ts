// The one backoff formula: archive retries, the size-cap window's release, hooks, the shipper and `tail` use it.

/** The wait before retry number `failures` (1-based): `initial`, doubling, capped at `max`. Pure. */
export function backoff(failures: number, o: { initial: number; max: number }): number {
  return Math.min(o.max, o.initial * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
}

/** Half to all of `ms` (`random` in [0, 1)), so a fleet does not retry in step. */
export const jitter = (ms: number, random: number): number => Math.round(ms * (0.5 + random / 2));
