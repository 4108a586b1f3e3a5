// `stroem-logs serve`: load the config, start the server, shut down gracefully on SIGTERM/SIGINT.
import { secretFileWarnings } from "../auth/tokens.ts";
import { loadConfig } from "../config/load.ts";
import { createLogger, stderrIsJournal } from "../log.ts";
import { type RunningServer, startServer } from "../server.ts";
import { parse } from "./args.ts";

const USAGE = "stroem-logs serve [--config FILE] [--listen HOST:PORT]";

export async function serve(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    { config: { type: "string", short: "c" }, listen: { type: "string" } },
    USAGE,
  );
  const config = loadConfig({
    file: values.config ?? process.env.STROEM_CONFIG,
    env: process.env,
    flags: { "server.listen": values.listen },
    flagNames: { "server.listen": "--listen" },
  });
  const log = createLogger({ settings: config.log, journal: stderrIsJournal(process.env) });
  for (const w of secretFileWarnings(config)) log.warn(w);

  // The handlers go in before the server starts: a supervisor may signal as soon as it reads `listening on`,
  // and a signal with no handler yet takes the default action (exit 143, nothing flushed).
  const { promise: stopped, resolve } = Promise.withResolvers<number>();
  let server: RunningServer | null = null;
  let stopAsked: NodeJS.Signals | null = null;
  let signals = 0;
  const stop = (sig: NodeJS.Signals, s: RunningServer) => {
    log.info(`${sig}: shutting down (finishing in-flight requests; send it again to exit at once)`);
    s.stop().then(
      () => resolve(0),
      (e) => {
        log.error("shutdown failed", e);
        resolve(1);
      },
    );
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn(`${sig} again: exiting at once`);
      process.exit(130);
    }
    if (server === null) stopAsked = sig;
    else stop(sig, server);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  try {
    server = await startServer(config, log);
  } finally {
    if (server === null) {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
  }
  process.stdout.write(`listening on ${server.url}\n`);
  if (stopAsked !== null) stop(stopAsked, server);
  const code = await stopped;
  log.info("stopped");
  return code;
}
