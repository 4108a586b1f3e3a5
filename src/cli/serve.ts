// `stroem-logs serve`: load the config, start the server, shut down gracefully on SIGTERM/SIGINT.
import { loadConfig } from "../config/load.ts";
import { createLogger } from "../log.ts";
import { startServer } from "../server.ts";
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
  });
  const log = createLogger();
  const server = await startServer(config, log);
  process.stdout.write(`listening on ${server.url}\n`);

  const { promise: stopped, resolve } = Promise.withResolvers<number>();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn(`${sig} again: exiting at once`);
      process.exit(130);
    }
    log.info(`${sig}: shutting down (finishing in-flight requests; send it again to exit at once)`);
    server.stop().then(
      () => resolve(0),
      (e) => {
        log.error("shutdown failed", e);
        resolve(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const code = await stopped;
  log.info("stopped");
  return code;
}
