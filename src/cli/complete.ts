// `stroem-logs complete JOB --status S [--error MSG]`: end a job.
import { UsageError } from "../errors.ts";
import { TERMINAL } from "../protocol/status.ts";
import { choiceFlag, clientFlags, oneJob, parse } from "./args.ts";
import { createClient, failOf } from "./client.ts";
import { type Command, type Flags, usageHint } from "./spec.ts";

const FLAGS = {
  status: { type: "string", choices: TERMINAL, required: true, help: "the job's final status" },
  error: { type: "string", arg: "MSG", help: "why it failed (shown to readers and hooks)" },
  ...clientFlags,
} as const satisfies Flags;

export const completeCommand: Command = {
  name: "complete",
  summary: "end a job with its final status (idempotent for the same status)",
  args: "JOB",
  positional: "none",
  flags: FLAGS,
  example: 'stroem-logs complete "$JOB" --status failed --error "exit code 2"',
  run: complete,
};

async function complete(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, completeCommand);
  const job = oneJob(positionals, completeCommand);
  const status = choiceFlag(values.status, "status", TERMINAL);
  if (status === undefined) throw new UsageError(`--status is required\n${usageHint(completeCommand)}`);
  const client = createClient(values);
  const res = await client.request("POST", `/worker/jobs/${encodeURIComponent(job)}/complete`, {
    status,
    ...(values.error !== undefined ? { error: values.error } : {}),
  });
  if (!res.ok) throw await failOf(res);
  const body = (await res.json()) as { changed: boolean };
  process.stdout.write(`job ${job} ${body.changed ? "marked" : "was already"} ${status}\n`);
  return 0;
}
