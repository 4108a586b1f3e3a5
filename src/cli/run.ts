// `stroem-logs run --job ID --step NAME [--complete] -- CMD...`: run a step's command and ship its output.
import { constants } from "node:os";
import { UsageError } from "../errors.ts";
import { echoTo } from "../shipper/capture.ts";
import { shipOptions } from "../shipper/options.ts";
import { tryStartShipper } from "../shipper/ship.ts";
import { parse } from "./args.ts";
import { createClient } from "./client.ts";
import { refuseStdinMask, SHIP_NOTES, shipCommandFlags } from "./ship-flags.ts";
import { type Command, type Flags, usageHint, usageOf } from "./spec.ts";

const FLAGS = {
  ...shipCommandFlags,
  complete: { type: "boolean", help: "end the job when the command ends (completed on exit 0, else failed)" },
} as const satisfies Flags;

export const runCommand: Command = {
  name: "run",
  summary: "run a step's command and ship its output (spooled, retried, never lost silently)",
  args: "-- CMD [ARGS...]",
  positional: "command",
  flags: FLAGS,
  example: 'stroem-logs run --job "$JOB" --step build --mask-env DEPLOY_TOKEN -- make -j4',
  notes: `${SHIP_NOTES}
Exits with the command's code (128+N when killed by signal N; 127 not found, 126 not runnable), 125 when
the command succeeded but some of its output could not be delivered, 2 for a usage error (the command is
not started).`,
  run,
};

/** The command succeeded but its output did not all reach the server (`timeout`/`env` use 125 alike). */
export const EXIT_SHIPPING_FAILED = 125;
const OUTPUT_GRACE_MS = 2000;
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, runCommand);
  if (positionals.length === 0) throw new UsageError(`expected a command after --\n${usageHint(runCommand)}`);
  refuseStdinMask(values, "the command's");
  const opts = shipOptions(values, createClient(values), "run", usageOf(runCommand));
  const started = tryStartShipper(opts);
  if ("why" in started) {
    // Without a spool nothing could be delivered safely: the command is not started.
    process.stderr.write(`stroem-logs run: ${started.why}; ${positionals[0]} was not started\n`);
    return EXIT_SHIPPING_FAILED;
  }
  const { shipper } = started;
  const { report } = shipper;

  let child: Bun.Subprocess<"inherit", "pipe", "pipe">;
  try {
    child = Bun.spawn(positionals, { stdin: "inherit", stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    report(`cannot run ${positionals[0]}: ${(e as Error).message}`);
    await shipper.finish();
    return code === "ENOENT" ? 127 : 126;
  }

  // Signals go to the command; once it has ended, a signal stops the wait for delivery instead.
  let exited = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!exited) child.kill(signal);
    else void shipper.giveUp();
  };
  for (const s of FORWARDED) process.on(s, onSignal);
  try {
    const quiet = values.quiet === true;
    // A background process the command left behind may hold its output open: stop reading a while
    // after the command itself ended rather than wait for it.
    const lingering = new AbortController();
    const captured = Promise.all([
      shipper.capture(child.stdout, "stdout", quiet ? null : echoTo(process.stdout), lingering.signal),
      shipper.capture(child.stderr, "stderr", quiet ? null : echoTo(process.stderr), lingering.signal),
    ]);
    await child.exited;
    exited = true;
    const grace = setTimeout(() => {
      report(
        `${positionals[0]} exited but its output is still open (a background process?): stopped reading`,
      );
      lingering.abort();
    }, OUTPUT_GRACE_MS);
    await captured;
    clearTimeout(grace);
    const signal = child.signalCode;
    const signo = typeof signal === "number" ? signal : signal ? constants.signals[signal] : 0;
    const code = signal ? 128 + signo : (child.exitCode ?? 1);
    const outcome = await shipper.finish();
    let shipped = outcome.ok;
    if (values.complete) {
      if (outcome.undelivered > 0) {
        report(`job ${opts.job} not completed: ${outcome.undelivered} of its lines are still in the spool`);
        shipped = false;
      } else {
        const error = code === 0 ? null : signal ? `killed by ${signal}` : `exit code ${code}`;
        const failure = await shipper.complete(
          code === 0 ? "completed" : "failed",
          error,
          Math.max(opts.drainTimeoutMs, 5000),
        );
        if (failure !== null) {
          report(failure);
          shipped = false;
        }
      }
    }
    return code === 0 && !shipped ? EXIT_SHIPPING_FAILED : code;
  } finally {
    for (const s of FORWARDED) process.off(s, onSignal);
  }
}
