// Idle-viewer load: opens N WebSocket viewers over some jobs, waits until each has its backfill, then holds
// them open until stdin closes. argv: url jobs(comma-separated) count backfillLines. Prints {"opened": N}.
const [url, jobsArg, countArg, backfillArg] = process.argv.slice(2);
const jobs = jobsArg!.split(",");
const count = Number(countArg);
const backfill = Number(backfillArg);
const sockets: WebSocket[] = [];

function open(i: number): Promise<void> {
  const ws = new WebSocket(`${url!.replace(/^http/, "ws")}/api/jobs/${jobs[i % jobs.length]}/logs/stream`);
  sockets.push(ws);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  let lines = 0;
  ws.addEventListener("message", (e) => {
    const text = e.data as string;
    for (let k = text.indexOf("\n"); k !== -1; k = text.indexOf("\n", k + 1)) lines++;
    if (lines >= backfill) resolve();
  });
  ws.addEventListener("close", (e) => reject(new Error(`viewer ${i} closed: ${e.code} ${e.reason}`)));
  return promise;
}

// In waves, so the server's accept queue is not the subject.
for (let i = 0; i < count; i += 250) {
  await Promise.all(Array.from({ length: Math.min(250, count - i) }, (_, k) => open(i + k)));
}
console.log(JSON.stringify({ opened: sockets.length }));
for await (const _ of Bun.stdin.stream()) {
  // held open until the bench closes our stdin
}
for (const ws of sockets) ws.close();

export {};
