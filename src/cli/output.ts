// Standard output of the reading commands (cat, tail): written with back-pressure, and a closed pipe ends them quietly.

/** What the shell reports for a tool ended by SIGPIPE (128 + 13): `cat | head -1` ends `cat` this way. */
export const CLOSED_PIPE_EXIT = 141;

let installed = false;

/**
 * Once the reader of stdout is gone (`| head -1`, a closed pager) nothing can be printed: exit at once,
 * without a message, as a tool killed by SIGPIPE does. Bun ignores SIGPIPE and reports EPIPE as an error
 * event on stdout instead; left alone it printed that error and waited for a `drain` that never came.
 */
export function exitOnClosedStdout(): void {
  if (installed) return;
  installed = true;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(CLOSED_PIPE_EXIT);
    throw e;
  });
}

/** Writes `text` to stdout and waits while the pipe is full, so output is never buffered without bound. */
export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once("drain", r));
}

/** Resolves once everything written so far has been handed to the OS. */
export function flushOut(): Promise<void> {
  return new Promise((r) => process.stdout.write("", () => r()));
}
