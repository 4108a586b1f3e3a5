// `stroem-logs push --job ID --step NAME [--stream S]`: ship the lines of stdin (`make 2>&1 | stroem-logs push`).
import { UsageError } from "../errors.ts";
import { echoTo } from "../shipper/capture.ts";
import { shipOptions } from "../shipper/options.ts";
import { tryStartShipper } from "../shipper/ship.ts";
import { parse, STREAMS, streamFlag } from "./args.ts";
import { createClient } from "./client.ts";
import { refuseStdinMask, SHIP_NOTES, shipCommandFlags } from "./ship-flags.ts";
import { type Command, type Flags, usageHint, usageOf } from "./spec.ts";

const FLAGS = {
  ...shipCommandFlags,
  stream: { type: "string", choices: STREAMS, help: "the stream the lines are recorded as (default stdout)" },
} as const satisfies Flags;

export const pushCommand: Command = {
  name: "push",
  summary: "ship the lines of standard input, echoing them like tee",
  args: "",
  positional: "none",
  flags: FLAGS,
  example: 'make 2>&1 | stroem-logs push --job "$JOB" --step build',
  notes: `${SHIP_NOTES}
Exit codes: 0 every line delivered, 1 some were not (the spool keeps them; the message says how to resume),
2 usage error (nothing is read or sent).`,
  run: push,
};
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

async function push(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, pushCommand);
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${positionals[0]}\n${usageHint(pushCommand)}`);
  const stream = streamFlag(values.stream) ?? "stdout";
  refuseStdinMask(values, "the log's");
  const opts = shipOptions(values, createClient(values), "push", usageOf(pushCommand));
  const started = tryStartShipper(opts);
  if ("why" in started) throw new UsageError(started.why, 1);
  const { shipper } = started;
  // A signal ends the input; a second one (or one during the drain) stops waiting for delivery.
  const endInput = new AbortController();
  const onSignal = () => {
    if (!endInput.signal.aborted) endInput.abort();
    else void shipper.giveUp();
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    const echo = values.quiet === true ? null : echoTo(process.stdout);
    await shipper.capture(Bun.stdin.stream(), stream, echo, endInput.signal);
    endInput.abort();
    const outcome = await shipper.finish();
    return outcome.ok ? 0 : 1;
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal);
  }
}
