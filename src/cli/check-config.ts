// `stroem-logs check-config FILE`: validate and print the effective config with secrets masked.
import { stringify } from "yaml";
import { loadConfig, redactConfig } from "../config/load.ts";
import { UsageError } from "../errors.ts";
import { parse } from "./args.ts";

const USAGE = "stroem-logs check-config FILE";

export async function checkConfig(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, USAGE);
  const file = positionals[0];
  if (file === undefined || positionals.length > 1)
    throw new UsageError(`expected one config file\nusage: ${USAGE}`);
  const config = loadConfig({ file, env: process.env });
  process.stdout.write(
    `# ${file}: valid; effective config (flags aside):\n${stringify(redactConfig(config))}`,
  );
  return 0;
}
