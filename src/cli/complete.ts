// `stroem-logs complete JOB --status S [--error MSG]`: end a job.
import { UsageError } from "../errors.ts";
import { clientOptions, parse } from "./args.ts";
import { createClient, failOf } from "./client.ts";

const USAGE = "stroem-logs complete JOB --status completed|failed|cancelled|skipped [--error MSG]";

export async function complete(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...clientOptions, status: { type: "string" }, error: { type: "string" } },
    USAGE,
  );
  const job = positionals[0];
  if (job === undefined || positionals.length > 1)
    throw new UsageError(`expected one job id\nusage: ${USAGE}`);
  if (values.status === undefined) throw new UsageError(`--status is required\nusage: ${USAGE}`);
  const client = createClient(values);
  const res = await client.request("POST", `/worker/jobs/${encodeURIComponent(job)}/complete`, {
    status: values.status,
    ...(values.error !== undefined ? { error: values.error } : {}),
  });
  if (!res.ok) throw await failOf(res);
  const body = (await res.json()) as { changed: boolean };
  process.stdout.write(`job ${job} ${body.changed ? "marked" : "was already"} ${values.status}\n`);
  return 0;
}
