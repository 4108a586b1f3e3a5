// The live stream's close codes and reasons: what the server sends and what `tail` reads back.

/** The reason of the normal close (code 1000) at the end of a job's stream. */
export const closeReason = (status: string): string => `job ${status}`;

/**
 * The close of a viewer that stopped reading while stalled viewers together held more than
 * stream.max_buffered_bytes: 1013 (try again later). Everything before `from` was sent ahead of the close.
 */
export const OVER_BUDGET = 1013;
export const overBudgetReason = (budget: number, from: number): string =>
  `too slow: over stream.max_buffered_bytes ${budget}; resume with from=${from}`;

/** The line a close reason says to resume from (`resume with from=N`), or null. */
export function resumeFromOf(reason: string): number | null {
  const m = /resume with from=(\d+)$/.exec(reason);
  return m ? Number(m[1]) : null;
}

/** The status named by a normal close reason, or null when the reason is not an end of job. */
export function statusOfReason(reason: string): string | null {
  const m = /^job ([a-z]+)$/.exec(reason);
  return m ? m[1]! : null;
}
