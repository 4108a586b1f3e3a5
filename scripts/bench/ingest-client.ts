// Ingest load generator (one process, `jobs` workers): each worker pushes pre-built batches to its own job over
// its own keep-alive connection, one request in flight. argv: url jobPrefix startAt(epoch ms) durationMs
// warmupMs batchLines [jobs]. Prints JSON: lines acknowledged in the window (answers that arrived in it).
import { connect, postBytes } from "./http1.ts";
import { pushBody } from "./lines.ts";

const [url, job, startAtArg, durationArg, warmupArg, batchArg, jobsArg] = process.argv.slice(2);
const startAt = Number(startAtArg);
const endAt = startAt + Number(durationArg);
const batch = Number(batchArg ?? 500);
const jobs = Number(jobsArg ?? 1);
// Bodies (and the requests around them) are built before the clock starts: the client spends its time
// sending, not encoding.
const bodies = Array.from({ length: 32 }, (_, k) => Buffer.from(pushBody(k * batch, batch)));
const host = new URL(url!).host;

await Bun.sleep(Math.max(0, startAt - Number(warmupArg) - Date.now()));
let lines = 0;
let requests = 0;
let first = Number.POSITIVE_INFINITY;
let last = 0;
const cpu0 = process.cpuUsage();
async function worker(path: string): Promise<void> {
  const conn = await connect(url!);
  const pushes = bodies.map((b) => postBytes(host, path, b));
  for (let k = 0; ; k++) {
    const t0 = Date.now();
    if (t0 >= endAt) break;
    const res = await conn.send(pushes[k % pushes.length]!);
    const text = Buffer.from(res.body).toString();
    const answer = res.status === 200 ? (JSON.parse(text) as { first: number; next: number }) : null;
    if (answer === null || answer.next - answer.first !== batch)
      throw new Error(`push ${k} to ${path}: ${res.status} ${text}`);
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
  conn.close();
}
const name = (i: number) => (jobs === 1 ? job! : `${job}-${i}`);
await Promise.all(Array.from({ length: jobs }, (_, i) => worker(`/worker/jobs/${name(i)}/logs`)));
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ lines, requests, first, last, cpuMs: (cpu.user + cpu.system) / 1000 }));
