// The one error type: a machine code, an HTTP status and a message that says what, which and the limit.
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** What went wrong underneath (a storage error): logged with the answer, never sent to the client. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "AppError";
  }
}

/** An error with every `cause` under it, one per line: `stack` (or message), then `caused by: …` for each. */
export function describeError(e: unknown): string {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  for (let at: unknown = e; at !== undefined && at !== null && !seen.has(at); ) {
    seen.add(at);
    const text = at instanceof Error ? (at.stack ?? `${at.name}: ${at.message}`) : String(at);
    lines.push(lines.length === 0 ? text : `caused by: ${text}`);
    at = at instanceof Error ? at.cause : undefined;
  }
  return lines.join("\n");
}

export const badRequest = (message: string, code = "bad_request") => new AppError(400, code, message);
export const notFound = (message: string, code = "not_found") => new AppError(404, code, message);
export const conflict = (message: string, code = "conflict") => new AppError(409, code, message);

/** A user-facing error outside HTTP (config, CLI usage): printed as is, exits with `exitCode`. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "UsageError";
  }
}
