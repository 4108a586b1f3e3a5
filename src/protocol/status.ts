// Job statuses: the two open ones and the four terminal ones, spelled once.
import * as v from "valibot";

export const TERMINAL = ["completed", "failed", "cancelled", "skipped"] as const;
export type TerminalStatus = (typeof TERMINAL)[number];
export const STATUSES = ["pending", "running", ...TERMINAL] as const;
export type JobStatus = (typeof STATUSES)[number];

export const isTerminal = (s: string): s is TerminalStatus => (TERMINAL as readonly string[]).includes(s);

/** A terminal status in a request body or the config; the error lists the four. */
export const TerminalStatusName = v.picklist(
  TERMINAL,
  (i) => `expected one of ${TERMINAL.join(", ")} (got ${i.received})`,
);
