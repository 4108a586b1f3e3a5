// `stroem-logs serve`: load the config, start the server, reload on SIGHUP, shut down gracefully on SIGTERM/SIGINT.
import { secretFileWarnings } from "../auth/tokens.ts";
import { diffConfig, RELOADABLE } from "../config/diff.ts";
import { type LoadOptions, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { UsageError } from "../errors.ts";
import { createLogger, type ServiceLogger, stderrIsJournal } from "../log.ts";
import { type RunningServer, startServer } from "../server.ts";
import { parse } from "./args.ts";
import { type Command, type Flags, usageHint } from "./spec.ts";

const FLAGS = {
  config: {
    type: "string",
    short: "c",
    arg: "FILE",
    complete: "file",
    help: "the config file, - for standard input (env STROEM_CONFIG; default: defaults and environment)",
  },
  listen: { type: "string", arg: "HOST:PORT", help: "address to listen on (overrides server.listen)" },
} as const satisfies Flags;

export const serveCommand: Command = {
  name: "serve",
  summary: "run the log server",
  args: "",
  positional: "none",
  flags: FLAGS,
  example: "stroem-logs serve --config /etc/stroem-logs/config.yaml --listen 0.0.0.0:8080",
  notes: `Prints \`listening on URL\`, logs to stderr. SIGHUP reloads tokens, hooks and log settings (not from
standard input: it cannot be read twice); SIGTERM/SIGINT stop gracefully. Every setting can also come from
STROEM__SECTION__KEY variables. Exit codes: 0 stopped, 1 cannot run (port in use, local_dir), 2 bad config.`,
  run: serve,
};

async function serve(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, serveCommand);
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${positionals[0]}\n${usageHint(serveCommand)}`);
  // Kept: a reload reads the same file, environment and flags again.
  const source: LoadOptions = {
    file: values.config ?? process.env.STROEM_CONFIG,
    env: process.env,
    flags: { "server.listen": values.listen },
    flagNames: { "server.listen": "--listen" },
  };
  let config = loadConfig(source);
  const log = createLogger({ settings: config.log, journal: stderrIsJournal(process.env) });
  for (const w of secretFileWarnings(config)) log.warn(w);

  // The handlers go in before the server starts: a supervisor may signal as soon as it reads `listening on`,
  // and a signal with no handler yet takes the default action (exit 143 for SIGTERM, and SIGHUP kills too).
  const { promise: stopped, resolve } = Promise.withResolvers<number>();
  let server: RunningServer | null = null;
  let stopAsked: NodeJS.Signals | null = null;
  let reloadAsked = false;
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
  const onHup = () => {
    if (server === null) reloadAsked = true;
    else if (signals === 0) config = reload(server, config, source, log);
  };
  const handlers = [
    ["SIGTERM", onSignal],
    ["SIGINT", onSignal],
    ["SIGHUP", onHup],
  ] as const;
  for (const [sig, fn] of handlers) process.on(sig, fn);

  try {
    server = await startServer(config, log);
  } finally {
    if (server === null) for (const [sig, fn] of handlers) process.off(sig, fn);
  }
  process.stdout.write(`listening on ${server.url}\n`);
  if (stopAsked !== null) stop(stopAsked, server);
  else if (reloadAsked) config = reload(server, config, source, log);
  const code = await stopped;
  for (const [sig, fn] of handlers) process.off(sig, fn);
  log.info("stopped");
  return code;
}

/**
 * Reads the config again and applies what can change while running (tokens, hooks, log settings); says
 * what changed, never a secret. A config that does not load, or that serve would refuse, changes nothing.
 * Returns the config now running.
 */
function reload(server: RunningServer, running: Config, source: LoadOptions, log: ServiceLogger): Config {
  if (source.file === "-") {
    // Read again, standard input is at its end: an empty config would turn auth off without a word.
    log.error(
      "SIGHUP: the config came from standard input, which cannot be read again: nothing changed (restart to change it)",
    );
    return running;
  }
  const from = source.file ?? "the environment";
  let result: { config: Config; changes: string[] };
  try {
    result = server.reload(() => loadConfig(source));
  } catch (e) {
    log.error(`SIGHUP: new config refused, the running one stays: ${(e as Error).message}`);
    return running;
  }
  const next = result.config;
  const diff = diffConfig(running, next);
  log.configure(next.log);
  const changes = [...diff.applied, ...result.changes];
  log.info(`SIGHUP: reloaded ${from}: ${changes.length === 0 ? "nothing to apply" : changes.join("; ")}`);
  if (diff.needsRestart.length > 0) {
    log.warn(
      `SIGHUP: ${diff.needsRestart.join(", ")} changed but take effect at the next restart ` +
        `(a reload applies ${RELOADABLE.join(", ")})`,
    );
  }
  for (const w of secretFileWarnings(next)) log.warn(w);
  // What needs a restart keeps its running value, so the next diff is taken against what actually runs.
  return { ...running, log: next.log, auth: next.auth, hooks: next.hooks };
}
