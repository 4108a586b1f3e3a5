// Ingest load generator (one process, `jobs` workers): each worker pushes pre-built batches to its own job, one
// request in flight. argv: url jobPrefix startAt(epoch ms) durationMs warmupMs batchLines [jobs]. Prints JSON:
// lines acknowledged in the window (answers that arrived in it).
import { pushBody } from "./lines.ts";

const [url, job, startAtArg, durationArg, warmupArg, batchArg, jobsArg] = process.argv.slice(2);
const startAt = Number(startAtArg);
const endAt = startAt + Number(durationArg);
const batch = Number(batchArg ?? 500);
const jobs = Number(jobsArg ?? 1);
// Bodies are built before the clock starts: the client spends its time sending, not encoding.
const bodies = Array.from({ length: 32 }, (_, k) => pushBody(k * batch, batch));

await Bun.sleep(Math.max(0, startAt - Number(warmupArg) - Date.now()));
let lines = 0;
let requests = 0;
let first = Number.POSITIVE_INFINITY;
let last = 0;
const cpu0 = process.cpuUsage();
async function worker(target: string): Promise<void> {
  for (let k = 0; ; k++) {
    const t0 = Date.now();
    if (t0 >= endAt) break;
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bodies[k % bodies.length]!,
    });
    if (!res.ok) throw new Error(`push ${k} to ${target}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    const t1 = Date.now();
    // Counted by when the answer came: counting requests *started* in the window over the time to their last
    // answer would stretch the window by one request's latency (over a second at 1,000 jobs).
    if (t1 >= startAt && t1 < endAt) {
      lines += batch;
      requests++;
      first = startAt;
      last = endAt;
    }
  }
}
const name = (i: number) => (jobs === 1 ? job! : `${job}-${i}`);
await Promise.all(Array.from({ length: jobs }, (_, i) => worker(`${url}/worker/jobs/${name(i)}/logs`)));
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ lines, requests, first, last, cpuMs: (cpu.user + cpu.system) / 1000 }));
