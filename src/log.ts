// The server's own log: one line per event on stderr (journald adds time and unit), level first.
import { describeError } from "./errors.ts";

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string, err?: unknown): void;
}

export function createLogger(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  return {
    info: (msg) => write(`info: ${msg}`),
    warn: (msg) => write(`warn: ${msg}`),
    error: (msg, err) => write(`error: ${msg}${err instanceof Error ? `\n${describeError(err)}` : ""}`),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
