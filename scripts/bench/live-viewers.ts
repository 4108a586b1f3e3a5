// Live viewers in a process of their own: opens `viewers` WebSocket viewers of one job, prints "ready", then records
// push → frame latency (each frame is one pushed batch whose lines carry their push time, epoch ms) until every
// viewer has `frames` frames or stdin says "end". argv: url job viewers frames. Prints JSON {samples, closed, cpuMs}.
const [url, job, viewersArg, framesArg] = process.argv.slice(2);
const viewers = Number(viewersArg);
const frames = Number(framesArg);
const clock = () => performance.timeOrigin + performance.now(); // comparable across processes of one machine
const samples = new Float64Array(viewers * frames);
let n = 0;
let closed = 0;
const { promise: finished, resolve: finish } = Promise.withResolvers<void>();

const opened: Promise<void>[] = [];
const sockets: WebSocket[] = [];
for (let i = 0; i < viewers; i++) {
  const ws = new WebSocket(`${url!.replace(/^http/, "ws")}/api/jobs/${job}/logs/stream?skip_backfill=true`);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  ws.addEventListener("open", () => resolve());
  ws.addEventListener("close", (e) => {
    closed++;
    reject(new Error(`viewer ${i} of ${job} closed: ${e.code} ${e.reason}`));
  });
  ws.addEventListener("message", (e) => {
    const text = e.data as string;
    const at = text.indexOf('"line":"t=');
    if (at < 0 || n >= samples.length) return;
    samples[n++] = clock() - Number(text.slice(at + 10, text.indexOf(" ", at + 10)));
    if (n === samples.length) finish();
  });
  sockets.push(ws);
  opened.push(promise);
}
await Promise.all(opened);
process.stdout.write("ready\n");
const cpu0 = process.cpuUsage();
void (async () => {
  for await (const chunk of Bun.stdin.stream()) if (new TextDecoder().decode(chunk).includes("end")) break;
  finish();
})();
await finished;
for (const ws of sockets) ws.close();
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
// Whole before exit: process.stdout.write of a large text to a pipe may still be pending when the process exits.
await Bun.write(
  Bun.stdout,
  `${JSON.stringify({ samples: Array.from(samples.subarray(0, n)), closed, cpuMs })}\n`,
);
process.exit(0);

export {};
