// Figure: the server's RSS with 10,000 open idle viewers (child processes hold them) vs its RSS idle.
import { join } from "node:path";
import { type BenchOptions, type Figure, fmt, median, spawnBinary, spawnChild } from "./common.ts";
import { pushBody } from "./lines.ts";

const JOBS = 10; // limits.max_streams_per_job defaults to 1,000
const BACKFILL = 20;

async function settledRss(rss: () => number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    await Bun.sleep(200);
    samples.push(rss());
  }
  return median(samples);
}

export async function benchIdle(o: BenchOptions): Promise<Figure> {
  const viewers = o.quick ? 2_000 : 10_000;
  const procs = 2;
  await using server = await spawnBinary({}, join(o.dir, "idle"));
  const jobs = Array.from({ length: JOBS }, (_, i) => `idle-${i}`);
  for (const job of jobs) {
    const res = await fetch(`${server.url}/worker/jobs/${job}/logs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: pushBody(0, BACKFILL),
    });
    if (!res.ok) throw new Error(`push to ${job}: ${res.status}`);
  }
  const idle = await settledRss(server.rss);
  const children = Array.from({ length: procs }, (_, i) =>
    spawnChild("idle-viewers.ts", [
      server.url,
      jobs.slice(i * (JOBS / procs), (i + 1) * (JOBS / procs)).join(","),
      String(viewers / procs),
      String(BACKFILL),
    ]),
  );
  try {
    const opened = await Promise.all(
      children.map(async (c) => {
        const reader = c.stdout.getReader();
        const { value } = await reader.read();
        reader.releaseLock();
        if (value === undefined)
          throw new Error(`idle viewers exited: ${await new Response(c.stderr).text()}`);
        return (JSON.parse(new TextDecoder().decode(value)) as { opened: number }).opened;
      }),
    );
    if (opened.reduce((a, b) => a + b, 0) !== viewers)
      throw new Error(`opened ${opened} viewers, wanted ${viewers}`);
    const busy = await settledRss(server.rss);
    const perViewer = (busy - idle) / viewers;
    return {
      rows: [
        {
          figure: `idle memory, ${fmt.int(viewers)} open viewers`,
          value: `${fmt.mb(busy)} MB (${(perViewer / 1024).toFixed(1)} KiB/viewer)`,
          baseline: `${fmt.mb(idle)} MB idle`,
          ratio: fmt.ratio(busy / idle),
          target: "≤ 64 KiB per viewer",
          pass: perViewer <= 64 * 1024,
        },
      ],
      notes: [
        `idle: ${fmt.int(viewers)} WebSocket viewers over ${JOBS} jobs of ${BACKFILL} lines, held by ${procs} client ` +
          "processes; each has received its backfill and is live. RSS is the server's VmRSS, median of 5 samples " +
          `over 1 s, before and after (${fmt.mb(busy - idle)} MB more).`,
      ],
    };
  } finally {
    for (const c of children) {
      c.stdin.end();
      c.kill("SIGKILL");
      await c.exited;
    }
  }
}
