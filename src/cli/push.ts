// `stroem-logs push --job ID --step NAME [--stream S]`: ship the lines of stdin (`make 2>&1 | stroem-logs push`).
import { UsageError } from "../errors.ts";
import { echoTo } from "../shipper/capture.ts";
import { SHIP_USAGE, shipFlags, shipOptions } from "../shipper/options.ts";
import { tryStartShipper } from "../shipper/ship.ts";
import { clientOptions, parse, streamFlag } from "./args.ts";
import { createClient } from "./client.ts";

const USAGE = `stroem-logs push ${SHIP_USAGE} [--stream stdout|stderr]`;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export async function push(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...clientOptions, ...shipFlags, stream: { type: "string" } },
    USAGE,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}\nusage: ${USAGE}`);
  const stream = streamFlag(values.stream) ?? "stdout";
  const opts = shipOptions(values, createClient(values), "push", USAGE);
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
