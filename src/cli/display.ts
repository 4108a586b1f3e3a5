// The output flags `cat` and `tail` share: --raw, --color, --local; turned into one line printer.
import { choiceFlag } from "./args.ts";
import { prettyLine } from "./format.ts";
import type { Flags } from "./spec.ts";
import { COLOR_MODES, colorOn } from "./terminal.ts";

export const displayFlags = {
  raw: { type: "boolean", help: "print the stored JSONL lines as they are (no escaping)" },
  color: {
    type: "string",
    choices: COLOR_MODES,
    help: "colour stderr lines and keep the job's own colours (auto: on a terminal without NO_COLOR)",
  },
  local: { type: "boolean", help: "times in the local zone with its offset (default UTC, ...Z)" },
} as const satisfies Flags;

export const DISPLAY_NOTES = `Lines print as \`2025-02-12T10:56:45.123Z  step  line\`. Control characters in job output are
shown escaped (\\e, \\r, \\x07), never sent to the terminal; colour codes (SGR) are kept when colour is on and
dropped when it is off. --raw prints the stored JSONL untouched.`;

/** The printer of one stored line for these flags; validates --color (a usage error, before any request). */
export function linePrinter(
  values: { raw?: boolean | undefined; color?: string | undefined; local?: boolean | undefined },
  isTTY: boolean = process.stdout.isTTY === true,
  env: Record<string, string | undefined> = process.env,
): (line: string) => string {
  const mode = choiceFlag(values.color, "color", COLOR_MODES) ?? "auto";
  if (values.raw) return (l) => l;
  const opts = { color: colorOn(mode, isTTY, env), local: values.local === true };
  return (l) => prettyLine(l, opts);
}
