// Acknowledged means durable: SIGTERM or kill -9 of the server during ingest loses no acknowledged line.
import { describe, expect, test } from "bun:test";
import { spawnServer } from "../support/process.ts";
import { makeLines, tempDir } from "../support/server.ts";

interface Acked {
  writer: string;
  batch: number;
  first: number;
  next: number;
}

/** Pushes 50-line batches from `writers` loops until a request fails (the server went away). */
async function pushUntilDown(
  url: string,
  writers: number,
  acked: Acked[],
  tag: string,
  onAck: (count: number) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let batch = 0; ; batch++) {
        let res: Response;
        try {
          res = await fetch(`${url}/worker/jobs/busy/logs`, {
            method: "POST",
            headers: { "content-type": "application/json", "idempotency-key": `${tag}w${writer}-b${batch}` },
            body: JSON.stringify({
              step_name: `w${writer}`,
              lines: makeLines(50, `${tag}w${writer}-b${batch}`),
            }),
          });
        } catch {
          return; // connection refused or reset: the server is down
        }
        if (res.status !== 200) return;
        const body = (await res.json()) as { first: number; next: number };
        acked.push({ writer: `${tag}w${writer}`, batch, first: body.first, next: body.next });
        onAck(acked.length);
      }
    }),
  );
}

async function verify(dir: string, acked: Acked[]): Promise<void> {
  // Restart on the same directory: the restart discards any unacknowledged tail.
  await using again = await spawnServer({}, { dir });
  const res = await fetch(`${again.url}/api/jobs/busy/logs?format=ndjson`);
  const text = await res.text();
  const lines = text.split("\n").slice(0, -1);
  const parsed = lines.map((l) => JSON.parse(l) as { step: string; line: string }); // throws on a torn line
  for (const a of acked) {
    expect(parsed.slice(a.first, a.next).map((l) => l.line)).toEqual(
      makeLines(50, `${a.writer}-b${a.batch}`).map((l) => l.line),
    );
  }
  // Each acknowledged batch exactly once.
  const seen = new Map<string, number>();
  for (const l of parsed) seen.set(l.line, (seen.get(l.line) ?? 0) + 1);
  expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
  const job = (await (await fetch(`${again.url}/api/jobs/busy`)).json()) as { lines: number; bytes: number };
  expect([job.lines, job.bytes]).toEqual([parsed.length, Buffer.byteLength(text)]);
  expect(parsed.length).toBeGreaterThanOrEqual(acked.length * 50);
}

describe("durability", () => {
  test("SIGTERM during ingest from 4 writers exits 0, loses no acknowledged line and tears none", async () => {
    using dir = tempDir();
    const acked: Acked[] = [];
    await round(dir.path, acked, "SIGTERM", 0);
    await verify(dir.path, acked);
  });

  test("kill -9 during full-speed ingest, 10 times in a row with restarts: every acknowledged line exactly once", async () => {
    using dir = tempDir();
    const acked: Acked[] = [];
    for (let r = 0; r < 10; r++) await round(dir.path, acked, "SIGKILL", r);
    await verify(dir.path, acked);
  }, 60_000);
});

/** One server life: start on `dir`, push from 4 writers until 100 more batches are acknowledged, signal. */
async function round(dir: string, acked: Acked[], signal: "SIGTERM" | "SIGKILL", r: number): Promise<void> {
  await using server = await spawnServer({}, { dir });
  const target = acked.length + 100;
  const { promise: running, resolve } = Promise.withResolvers<void>();
  const pushing = pushUntilDown(server.url, 4, acked, `r${r}`, (n) => n >= target && resolve());
  await running;
  const code = await server.stop(signal);
  await pushing;
  if (signal === "SIGTERM") expect(code).toBe(0);
}
