// Masking through the real server: pushes the masking bench's lines to a job with 100 secrets and to one without,
// in alternating rounds; per round the server's CPU time (from /proc) and the lines acknowledged.
// argv: url serverPid durationMs batchLines. Prints JSON: the rounds of each job.
import { cpuMs } from "./common.ts";
import { LINES, SECRETS } from "./mask-data.ts";

const [url, pidArg, durationArg, batchArg] = process.argv.slice(2);
const pid = Number(pidArg);
const durationMs = Number(durationArg);
const batch = Number(batchArg ?? 500);
const ROUND_MS = 250;
const IN_FLIGHT = 2;

const TS = "2025-02-12T10:56:45.123456789Z";
// Bodies are built before the clock starts: the client spends its time sending, not encoding.
const bodies: string[] = [];
for (let i = 0; i + batch <= LINES.length; i += batch) {
  bodies.push(
    JSON.stringify({
      step_name: "build",
      lines: LINES.slice(i, i + batch).map((line) => ({ ts: TS, stream: "stdout", line })),
    }),
  );
}

const put = await fetch(`${url}/api/jobs/masked`, {
  method: "PUT",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ workspace: "bench", task: "mask", secrets: SECRETS }),
});
if (put.status !== 201) throw new Error(`registering the secrets: ${put.status} ${await put.text()}`);

let k = 0;
/** Pushes to `job` for ROUND_MS with IN_FLIGHT requests at a time; lines per server CPU-second and per second. */
async function round(job: string): Promise<{ cpu: number; wall: number }> {
  const target = `${url}/worker/jobs/${job}/logs`;
  const c0 = cpuMs(pid);
  const t0 = performance.now();
  let lines = 0;
  const worker = async () => {
    while (performance.now() - t0 < ROUND_MS) {
      const res = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: bodies[k++ % bodies.length]!,
      });
      if (!res.ok) throw new Error(`push to ${job}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      lines += batch;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const wall = (performance.now() - t0) / 1000;
  const cpu = (cpuMs(pid) - c0) / 1000;
  return { cpu: lines / Math.max(cpu, 0.01), wall: lines / wall };
}

const plain: Array<{ cpu: number; wall: number }> = [];
const masked: Array<{ cpu: number; wall: number }> = [];
await round("plain");
await round("masked");
const until = performance.now() + durationMs;
for (let i = 0; performance.now() < until; i++) {
  // Alternating which goes first: a load that rises during a pair does not favour one side.
  if (i % 2 === 0) {
    plain.push(await round("plain"));
    masked.push(await round("masked"));
  } else {
    masked.push(await round("masked"));
    plain.push(await round("plain"));
  }
}
console.log(JSON.stringify({ plain, masked, secrets: SECRETS.length }));
