// `stroem-logs check-config FILE|-`: what serve would refuse, warnings, and the effective config (secrets masked).
import { stringify } from "yaml";
import { archiveFromConfig } from "../archive/index.ts";
import { secretFileWarnings, tokensFromConfig } from "../auth/tokens.ts";
import { loadConfig, redactConfig, STDIN_NAME, splitListen } from "../config/load.ts";
import { configAsInput } from "../config/print.ts";
import { UsageError } from "../errors.ts";
import { readKeyFile } from "../masking/vault.ts";
import { parse } from "./args.ts";
import { type Command, type Flags, usageHint } from "./spec.ts";

const FLAGS = {
  connect: { type: "boolean", help: "also reach the archive target and write (then delete) a probe object" },
} as const satisfies Flags;

export const checkConfigCommand: Command = {
  name: "check-config",
  summary: "check a config as serve would, print the effective config (secrets masked)",
  args: "FILE|-",
  positional: "file",
  flags: FLAGS,
  example:
    "STROEM__AUTH__WORKER_TOKEN_FILE=/run/secrets/w stroem-logs check-config /etc/stroem-logs/config.yaml --connect",
  notes: `- reads the config from standard input. The printed config is valid input again (durations and sizes
as text). Exit codes: 0 valid, 1 --connect failed, 2 invalid.`,
  run: checkConfig,
};

async function checkConfig(argv: string[]): Promise<number> {
  const { positionals, values } = parse(argv, FLAGS, checkConfigCommand);
  const file = positionals[0];
  if (file === undefined || positionals.length > 1)
    throw new UsageError(`expected one config file (- for standard input)\n${usageHint(checkConfigCommand)}`);
  const config = loadConfig({ file, env: process.env });
  // Beyond the schema, what serve refuses before binding: token files missing, unreadable or empty, and
  // tokens missing on a non-loopback address.
  tokensFromConfig(config, splitListen(config.server.listen).hostname);
  if (config.masking.key_file !== undefined) readKeyFile(config.masking.key_file);
  for (const w of secretFileWarnings(config))
    process.stderr.write(`stroem-logs check-config: warning: ${w}\n`);
  const name = file === "-" ? STDIN_NAME : file;
  process.stdout.write(
    `# ${name}: valid; effective config (flags aside):\n${stringify(redactConfig(configAsInput(config)))}`,
  );
  if (values.connect) return connect(config);
  return 0;
}

/** `--connect`: reaches the archive target and writes (then deletes) a probe object. */
async function connect(config: ReturnType<typeof loadConfig>): Promise<number> {
  const archive = archiveFromConfig(config.log_storage);
  if (archive === null) {
    process.stdout.write(
      "# --connect: no archive configured (log_storage.archive or log_storage.s3); nothing to test\n",
    );
    return 0;
  }
  const problem = await archive.target.check({ write: true });
  if (problem !== null) {
    process.stderr.write(`stroem-logs check-config: archive ${archive.target.where}: ${problem}\n`);
    return 1;
  }
  process.stdout.write(`# --connect: archive ${archive.target.where} reachable and writable\n`);
  return 0;
}
