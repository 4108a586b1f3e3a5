// The server's own log on stderr: text (`info: msg k=v`) or JSON lines, a level, journald priorities, the access log.
import { fstatSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, err?: unknown, fields?: LogFields): void;
  /** The access log's writer while `log.access` is on, else null; absent on loggers without one. */
  access?(): ((fields: LogFields) => void) | null;
}

export interface LogSettings {
  format: LogFormat;
  level: LogLevel;
  access: boolean;
}

export interface ServiceLogger extends Logger {
  access(): ((fields: LogFields) => void) | null;
  readonly settings: LogSettings;
  /** Applies new settings at once (a SIGHUP reload). */
  configure(settings: LogSettings): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** sd-daemon(3) priorities: a `<N>` prefix on each line sets the journal entry's priority. */
const PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };
const MAX_CAUSES = 8;

export const DEFAULT_LOG_SETTINGS: LogSettings = { format: "text", level: "info", access: false };

/**
 * True when stderr is the journal's stream: systemd sets JOURNAL_STREAM to the device and inode of the
 * stream it connected (systemd.exec(5)); a redirect of stderr elsewhere no longer matches.
 */
export function stderrIsJournal(env: Record<string, string | undefined>, fd = 2): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? "");
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return String(st.dev) === m[1] && String(st.ino) === m[2];
  } catch {
    return false;
  }
}

/** `k=v`, quoted as JSON when the value has spaces, quotes, `=` or control characters (one line, always). */
function textFields(fields: LogFields | undefined): string {
  if (!fields) return "";
  let out = "";
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = String(v);
    out += ` ${k}=${s === "" || /[\s"=\\\u0000-\u001f\u007f]/.test(s) ? JSON.stringify(s) : s}`;
  }
  return out;
}

interface ErrorJson {
  type: string;
  message: string;
  stack?: string;
  code?: string;
  cause?: ErrorJson;
}

/** An error and its `cause` chain, for the JSON format (a cause that is not an Error is its text). */
function errorJson(err: unknown, depth = 0): ErrorJson {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: err.message,
    ...(err.stack !== undefined ? { stack: err.stack } : {}),
    ...(typeof code === "string" ? { code } : {}),
    ...(err.cause !== undefined && depth < MAX_CAUSES ? { cause: errorJson(err.cause, depth + 1) } : {}),
  };
}

/** An error's stack, then each cause's, for the text format. */
function errorText(err: unknown): string {
  let out = "";
  let e: unknown = err;
  for (let depth = 0; e !== undefined && depth <= MAX_CAUSES; depth++) {
    const text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    out += depth === 0 ? `\n${text}` : `\ncaused by: ${text}`;
    e = e instanceof Error ? e.cause : undefined;
  }
  return out;
}

export interface LoggerOptions {
  settings?: Partial<LogSettings>;
  /** Prefix every line with its journald priority (`<3>` error … `<7>` debug). */
  journal?: boolean;
  write?: (line: string) => void;
  clock?: () => number;
}

export function createLogger(opts: LoggerOptions = {}): ServiceLogger {
  const write = opts.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const clock = opts.clock ?? Date.now;
  let settings: LogSettings = { ...DEFAULT_LOG_SETTINGS, ...opts.settings };

  function emit(level: LogLevel, msg: string, fields: LogFields | undefined, err?: unknown): void {
    let line: string;
    if (settings.format === "json") {
      const entry: Record<string, unknown> = { time: new Date(clock()).toISOString(), level, msg };
      if (fields && Object.keys(fields).length > 0) entry.fields = fields;
      if (err !== undefined) entry.error = errorJson(err);
      line = JSON.stringify(entry);
    } else {
      line = `${level}: ${msg}${textFields(fields)}${err !== undefined ? errorText(err) : ""}`;
    }
    // Each line of a multi-line entry (a stack) is its own journal entry: each gets the priority.
    write(opts.journal ? line.replace(/^/gm, `<${PRIORITY[level]}>`) : line);
  }
  const at = (level: LogLevel) => RANK[level] >= RANK[settings.level];
  const accessWriter = (fields: LogFields) => emit("info", "access", fields);

  return {
    debug(msg, fields) {
      if (at("debug")) emit("debug", msg, fields);
    },
    info(msg, fields) {
      if (at("info")) emit("info", msg, fields);
    },
    warn(msg, fields) {
      if (at("warn")) emit("warn", msg, fields);
    },
    error(msg, err, fields) {
      if (at("error")) emit("error", msg, fields, err);
    },
    // Access lines are asked for on their own (log.access), so the level does not hide them.
    access: () => (settings.access ? accessWriter : null),
    get settings() {
      return settings;
    },
    configure(next) {
      settings = { ...next };
    },
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
