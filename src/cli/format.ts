// Pretty printing of JSONL log lines for the terminal: `2025-02-12T10:56:45.123Z  step  line`, stderr in red.
import { parseLine } from "../core/line.ts";
import { normalizeTs } from "../protocol/timestamp.ts";
import { forTerminal } from "./terminal.ts";

export interface PrettyOptions {
  color: boolean;
  /** Local time with its offset instead of UTC. */
  local: boolean;
}

const UTC = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/;

/**
 * A stored timestamp (RFC 3339 UTC, any precision) as a fixed-width ISO instant to the millisecond:
 * `2025-02-12T10:56:45.123Z`, or `2025-02-12T11:56:45.123+01:00` in the local zone (`TZ`). Digits past the
 * millisecond are cut, not rounded, so a line never shows a later time than it had. Null when not an instant.
 */
export function formatTs(ts: string, local: boolean): string | null {
  const m = UTC.exec(ts) ?? UTC.exec(normalizeTs(ts) ?? "");
  if (m === null) return null;
  const ms = (m[2] ?? "").slice(0, 3).padEnd(3, "0");
  if (!local) return `${m[1]}.${ms}Z`;
  const at = Date.parse(`${m[1]}.${ms}Z`);
  const offset = -new Date(at).getTimezoneOffset();
  const abs = Math.abs(offset);
  const zone = `${offset < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  return `${new Date(at + offset * 60_000).toISOString().slice(0, 23)}${zone}`;
}

export function prettyLine(text: string, opts: PrettyOptions): string {
  const l = parseLine(text);
  if (l === null) return forTerminal(text, opts.color); // a legacy text line is shown as it is, made safe
  const time =
    (typeof l.ts === "string" ? formatTs(l.ts, opts.local) : null) ?? forTerminal(String(l.ts), false);
  const out = `${time}  ${forTerminal(l.step, false)}  ${forTerminal(l.line, opts.color)}`;
  return opts.color && l.stream === "stderr" ? `\x1b[31m${out}\x1b[0m` : out;
}
