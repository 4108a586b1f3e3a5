// Pretty printing of JSONL log lines for the terminal: `HH:MM:SS.mmm  step  line`, stderr in red.
import { parseLine } from "../logs/line.ts";

export function prettyLine(text: string, color: boolean): string {
  const l = parseLine(text);
  if (l === null) return text; // a legacy text line is shown as it is
  const time = typeof l.ts === "string" && l.ts.length >= 23 ? l.ts.slice(11, 23) : String(l.ts);
  const out = `${time}  ${l.step}  ${l.line}`;
  return color && l.stream === "stderr" ? `\x1b[31m${out}\x1b[0m` : out;
}
