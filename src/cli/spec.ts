// The command table's types and what is generated from it: usage lines, `--help` pages, the top-level help.
import { VERSION } from "../version.ts";

/** One flag: what parseArgs needs plus what help and shell completion show. */
export interface Flag {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in usage: FILE, DURATION, SIZE, N. */
  arg?: string;
  /** The only values it takes: help lists them, completion offers them. */
  choices?: readonly string[];
  /** What the shell completes for the value (default: nothing). */
  complete?: "file" | "dir";
  /** Usage shows it without brackets. */
  required?: boolean;
  help: string;
}

export type Flags = Record<string, Flag>;
/** The help side of a flag, for tables owned elsewhere (the shipper's flags). */
export type FlagDoc = Omit<Flag, "type" | "short" | "multiple">;

export interface Command {
  name: string;
  summary: string;
  /** The positionals as usage shows them: `JOB`, `FILE|-`, `-- CMD [ARGS...]`. */
  args: string;
  /** What the shell completes for positionals. */
  positional: "none" | "file" | "command" | "choices";
  /** For `positional: "choices"`. */
  choices?: readonly string[];
  flags: Flags;
  example: string;
  /** Further paragraphs of `--help`: environment, exit codes. */
  notes?: string;
  run(argv: string[]): Promise<number>;
}

/** A table owned elsewhere joined with its docs; the docs' type lists every flag, so none goes undocumented. */
export function documented<F extends Record<string, Omit<Flag, "help">>>(
  flags: F,
  docs: { [K in keyof F]: FlagDoc },
): { [K in keyof F]: F[K] & FlagDoc } {
  const out: Record<string, Flag> = {};
  for (const k of Object.keys(flags)) out[k] = { ...flags[k]!, ...docs[k]! };
  return out as { [K in keyof F]: F[K] & FlagDoc };
}

export const HELP_FLAG: Flag = { type: "boolean", short: "h", help: "print this help" };

function flagValue(f: Flag): string {
  if (f.type === "boolean") return "";
  return ` ${f.choices ? f.choices.join("|") : (f.arg ?? "VALUE")}`;
}

/** `stroem-logs cat JOB [--step NAME] …`: required flags first, the rest bracketed, in table order. */
export function usageOf(c: Command): string {
  const flags = Object.entries(c.flags);
  const term = ([name, f]: [string, Flag]) => `--${name}${flagValue(f)}`;
  const required = flags.filter(([, f]) => f.required).map(term);
  const optional = flags.filter(([, f]) => !f.required).map((e) => `[${term(e)}]`);
  const [before, after] = c.args.startsWith("--") ? ["", c.args] : [c.args, ""];
  return ["stroem-logs", c.name, before, ...required, ...optional, after].filter((s) => s !== "").join(" ");
}

/** A usage error's tail: the synopsis and where the flags are explained. */
export const usageHint = (c: Command): string =>
  `usage: ${usageOf(c)}\n(stroem-logs ${c.name} --help explains each flag)`;

/** The `--help` page of one command. */
export function helpOf(c: Command): string {
  const rows = Object.entries(c.flags).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : "    "}--${name}${flagValue(f)}`;
    return [left, f.help] as const;
  });
  rows.push(["-h, --help", HELP_FLAG.help]);
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  const table = rows
    .map(([l, h]) =>
      l.length + 2 > width ? `  ${l}\n  ${" ".repeat(width)}${h}` : `  ${l.padEnd(width)}${h}`,
    )
    .join("\n");
  return (
    `stroem-logs ${c.name} — ${c.summary}\n\nusage: ${usageOf(c)}\n\nflags:\n${table}\n\n` +
    `example:\n  ${c.example}\n${c.notes ? `\n${c.notes.trimEnd()}\n` : ""}`
  );
}

/** `stroem-logs --help`: every command with its summary. */
export function topHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const list = commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n");
  return `stroem-logs ${VERSION} — job logs for the Strøm workflow orchestrator

usage: stroem-logs COMMAND [ARGS...]
       stroem-logs COMMAND --help     its usage, flags and an example
       stroem-logs --version

commands:
${list}

Client commands take --server URL (env STROEM_URL, default http://127.0.0.1:8080)
and --token TOKEN (env STROEM_TOKEN).
Exit codes: 0 ok, 1 the server said no or failed, 2 usage or config error.
run exits with the command's code (128+N when killed by signal N; 127 not found, 126 not runnable),
or 125 when the command succeeded but some of its output could not be delivered.
`;
}
