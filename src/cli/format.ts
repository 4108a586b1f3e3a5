// Pretty printing of JSONL log lines for the terminal: `HH:MM:SS.mmm  step  line`, stderr in red.
import { parseLine } from "../core/line.ts";

/** The time of day as written, to the millisecond: timestamps keep the sender's precision (none, ms, µs, ns). */
const TIME = /T(\d\d:\d\d:\d\d)(?:[.,](\d+))?/;

export function prettyLine(text: string, color: boolean): string {
  const l = parseLine(text);
  if (l === null) return text; // a legacy text line is shown as it is
  const m = typeof l.ts === "string" ? TIME.exec(l.ts) : null;
  const time = m === null ? String(l.ts) : `${m[1]}.${(m[2] ?? "").slice(0, 3).padEnd(3, "0")}`;
  const out = `${time}  ${l.step}  ${l.line}`;
  return color && l.stream === "stderr" ? `\x1b[31m${out}\x1b[0m` : out;
}
