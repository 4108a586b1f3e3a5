// The help side of the shipper's flag table (src/shipper/options.ts): its type names every flag, so a new one cannot go undocumented.

import { UsageError } from "../errors.ts";
import { shipFlags } from "../shipper/options.ts";
import { clientFlags } from "./args.ts";
import { documented, type Flags } from "./spec.ts";

export const shipCommandFlags = {
  ...documented(shipFlags, {
    job: { arg: "ID", required: true, help: "the job (a UUID or [A-Za-z0-9][A-Za-z0-9._-]{0,127})" },
    step: { arg: "NAME", required: true, help: "the step the lines belong to" },
    spool: {
      arg: "DIR",
      complete: "dir",
      help: "where lines wait for delivery (env STROEM_SPOOL, else $TMPDIR/stroem-logs-spool-$UID)",
    },
    "spool-max": { arg: "SIZE", help: "bound on undelivered bytes per job and step (default 256MiB)" },
    "flush-interval": {
      arg: "DURATION",
      help: "the shortest gap between two pushes (default 10ms): a line goes at once when no push is in flight",
    },
    "drain-timeout": {
      arg: "DURATION",
      help: "how long to wait at the end for the spool to empty (default 60s)",
    },
    "batch-max": {
      arg: "SIZE",
      help: "largest request body, the server's limits.max_body_bytes (default 8MiB)",
    },
    "max-line": { arg: "SIZE", help: "longer lines are cut into pieces of this size (default 1MiB)" },
    "retry-max": { arg: "DURATION", help: "retry backoff cap (default 5s)" },
    "request-timeout": { arg: "DURATION", help: "how long one request may take (default 30s)" },
    quiet: { help: "do not echo the output" },
    "mask-env": {
      arg: "NAME[,NAME...]",
      help: "mask the values of these environment variables (repeatable)",
    },
    "mask-file": { arg: "FILE", complete: "file", help: "mask the secret in this file (repeatable)" },
  }),
  ...clientFlags,
} as const satisfies Flags;

export const SHIP_NOTES = `Sizes are bytes or 512KiB, 8MiB, 1GB; durations 250ms, 5s, 2m (as in the config).`;

/** `--mask-file -`: standard input is already taken (the log for push, the command's input for run). */
export function refuseStdinMask(values: { "mask-file"?: string[] | undefined }, whose: string): void {
  if (values["mask-file"]?.includes("-"))
    throw new UsageError(
      `--mask-file -: standard input is ${whose} input here; pass the secret in a file (or --mask-env, or /dev/fd/N)`,
    );
}
