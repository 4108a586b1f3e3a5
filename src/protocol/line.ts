// The stored log line as clients see it: its fields, its streams, and the step reserved for server events.

export type Stream = "stdout" | "stderr";
export const STREAMS = ["stdout", "stderr"] as const;

/** `step: "_server"`, `stream: "stderr"` marks a server event; workers may not push to it. */
export const SERVER_STEP = "_server";

/** One stored line, keys in this order: `{"ts","stream","step","line"}`. */
export interface LogLine {
  ts: string;
  stream: Stream;
  step: string;
  line: string;
}
