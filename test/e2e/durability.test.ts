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

/** A batch whose request failed when the server went down: written or not, the client cannot know. */
interface InFlight {
  writer: string;
  batch: number;
}

const send = (url: string, writer: string, batch: number) =>
  fetch(`${url}/worker/jobs/busy/logs`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": `${writer}-b${batch}` },
    body: JSON.stringify({ step_name: writer, lines: makeLines(50, `${writer}-b${batch}`) }),
  });

const retried = { batches: 0, duplicates: 0 };

/** What a worker does after a restart: re-send each batch of unknown outcome under its key; all are acked. */
async function resend(url: string, unknown: InFlight[], acked: Acked[]): Promise<void> {
  for (const u of unknown.splice(0)) {
    const res = await send(url, u.writer, u.batch);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { first: number; next: number; duplicate?: boolean };
    retried.batches++;
    if (body.duplicate) retried.duplicates++;
    acked.push({ ...u, first: body.first, next: body.next });
  }
}

/** Pushes 50-line batches from `writers` loops until a request fails (the server went away). */
async function pushUntilDown(
  url: string,
  writers: number,
  acked: Acked[],
  unknown: InFlight[],
  tag: string,
  onAck: (count: number) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const writer = `${tag}w${w}`;
      for (let batch = 0; ; batch++) {
        let res: Response;
        try {
          res = await send(url, writer, batch);
        } catch {
          unknown.push({ writer, batch }); // connection refused or reset: the server is down
          return;
        }
        if (res.status !== 200) return;
        const body = (await res.json()) as { first: number; next: number };
        acked.push({ writer, batch, first: body.first, next: body.next });
        onAck(acked.length);
      }
    }),
  );
}

async function verify(dir: string, acked: Acked[], unknown: InFlight[]): Promise<void> {
  // Restart on the same directory: the restart discards any unacknowledged tail.
  await using again = await spawnServer({}, { dir });
  await resend(again.url, unknown, acked);
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
    const unknown: InFlight[] = [];
    await round(dir.path, acked, unknown, "SIGTERM", 0);
    await verify(dir.path, acked, unknown);
  });

  // Eleven server start-ups and 1,000+ batches: 35 s of its old 60 s deadline in a suite run with two busy
  // loops beside it. The deadline only catches a hang.
  test("kill -9 during full-speed ingest, 10 times in a row with restarts and retries of the batches in flight: every batch exactly once", async () => {
    using dir = tempDir();
    const acked: Acked[] = [];
    const unknown: InFlight[] = [];
    for (let r = 0; r < 10; r++) await round(dir.path, acked, unknown, "SIGKILL", r);
    await verify(dir.path, acked, unknown);
    console.log(
      `kill -9 x10: ${acked.length} batches acknowledged, ${retried.batches} re-sent after a kill ` +
        `(${retried.duplicates} had been written: answered duplicate)`,
    );
  }, 180_000);
});

/**
 * One server life: start on `dir`, re-send the batches the last kill left in doubt, push from 4 writers
 * until 100 more batches are acknowledged, signal.
 */
async function round(
  dir: string,
  acked: Acked[],
  unknown: InFlight[],
  signal: "SIGTERM" | "SIGKILL",
  r: number,
): Promise<void> {
  await using server = await spawnServer({}, { dir });
  await resend(server.url, unknown, acked);
  const target = acked.length + 100;
  const { promise: running, resolve } = Promise.withResolvers<void>();
  const pushing = pushUntilDown(server.url, 4, acked, unknown, `r${r}`, (n) => n >= target && resolve());
  await running;
  const code = await server.stop(signal);
  await pushing;
  if (signal === "SIGTERM") expect(code).toBe(0);
}
