// What job output may do to the operator's terminal: SGR colours at most; every other control is shown, not obeyed.

/**
 * SGR (`ESC [ params m`) only changes how the next characters look. Everything else a job could print
 * (OSC titles, hyperlinks and clipboard writes, cursor movement, screen clears, queries whose answers the
 * terminal types back as input, C1 forms like U+009B, a bare CR that overwrites what a line showed, a newline
 * inside a line that forges the next one) acts on the terminal or misleads its reader.
 */
const CONTROL = /\x1b\[[0-9;:]*m|[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
const ANY_CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\x1b": "\\e" };

const visible = (c: string): string => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;

/**
 * Text safe to print: with `keepSgr` (colour on) SGR sequences stay and the line ends with a reset, so a
 * job's colour never bleeds into the next line or the prompt; without it they are dropped (they carry no
 * text). Every other control character is written as a visible escape (`\e`, `\r`, `\x07`), so the reader
 * sees that it was there. Tabs pass.
 */
export function forTerminal(text: string, keepSgr: boolean): string {
  if (!ANY_CONTROL.test(text)) return text;
  let sgr = false;
  const out = text.replace(CONTROL, (m) => {
    if (m.length === 1) return visible(m);
    sgr = true;
    return keepSgr ? m : "";
  });
  return keepSgr && sgr ? `${out}\x1b[0m` : out;
}

export const COLOR_MODES = ["auto", "always", "never"] as const;
export type ColorMode = (typeof COLOR_MODES)[number];

/**
 * Whether to colour: `always`/`never` as asked; `auto` when stdout is a terminal, `NO_COLOR` is unset or
 * empty (no-color.org: a flag overrides it) and `TERM` is not `dumb`.
 */
export function colorOn(mode: ColorMode, isTTY: boolean, env: Record<string, string | undefined>): boolean {
  if (mode !== "auto") return mode === "always";
  return isTTY && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb";
}
