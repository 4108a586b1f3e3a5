// Pushes decoded on a decode worker store what pushes decoded on the server's thread store: the same answers,
// the same bytes in every job's file, with many clients on many jobs and big, small and refused bodies mixed.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { heldPush } from "../support/held-push.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

const TEXTS = ["plain", "ünïcødé 日本語 🚀", 'say "hi"\\', "tab\tand\u0000nul", "x".repeat(5000)];

/** Push `k` of client `c`: mostly big (decoded on a worker), some small (in place), every 7th refused (big). */
function body(c: number, k: number): string {
  const n = k % 3 === 0 && k % 7 !== 6 ? 2 : 60 + ((c * 13 + k) % 50);
  const lines = Array.from({ length: n }, (_, i) => ({
    ts: `2025-02-12T10:56:${String(k % 60).padStart(2, "0")}.${String(i).padStart(9, "0")}Z`,
    stream: i % 4 === 0 ? "stderr" : "stdout",
    line: `c${c} k${k} i${i} ${TEXTS[(c + k + i) % TEXTS.length]}`,
  }));
  if (k % 7 === 6) lines.push({ ts: lines[0]!.ts, stream: "stdlog", line: "bad" });
  return JSON.stringify({ step_name: `step-${k % 3}`, lines });
}

const CLIENTS = 8;
const PUSHES = 30;

/** Every client pushes its bodies in order to its job (clients share jobs two by two); the answers, in order. */
async function run(s: TestServer): Promise<string[][]> {
  return Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const answers: string[] = [];
      for (let k = 0; k < PUSHES; k++) {
        const res = await s.post(`/worker/jobs/job-${c % 4}-${c}/logs`, body(c, k));
        answers.push(`${res.status} ${await res.text()}`);
      }
      return answers;
    }),
  );
}

describe("push decode workers", () => {
  test("8 clients, 240 pushes: answers and stored bytes are those of a server that decodes on its own thread", async () => {
    await using inline = await startTestServer({
      server: { decode_workers: 0 },
      limits: { max_line_bytes: 4096 },
    });
    await using workers = await startTestServer({
      server: { decode_workers: 1 },
      limits: { max_line_bytes: 4096 },
    });
    const [a, b] = await Promise.all([run(inline), run(workers)]);
    expect(b).toEqual(a);
    // Every refused body is a 400 naming the field; every other an ok with consecutive line numbers.
    expect(a.flat().filter((x) => x.startsWith("400 ")).length).toBe(CLIENTS * Math.floor(PUSHES / 7));
    expect(
      a
        .flat()
        .every(
          (x) =>
            x.startsWith("200 ") ||
            /^400 .*lines\[\d+\]\.stream: expected \\"stdout\\" or \\"stderr\\"/.test(x),
        ),
    ).toBe(true);
    for (let c = 0; c < CLIENTS; c++) {
      const file = (s: TestServer) => readFileSync(join(s.dir, `job-${c % 4}-${c}.jsonl`));
      expect(Buffer.compare(file(workers), file(inline))).toBe(0);
      expect(file(inline).length).toBeGreaterThan(100_000);
    }
    const metric = (await (await workers.fetch("/metrics")).text()).match(
      /\nstroem_logs_push_decodes_worker_total (\d+)\n/,
    );
    expect(Number(metric?.[1])).toBeGreaterThan(0);
  }, 60_000);

  test("a job with registered secrets has its pushes parsed once on the server's thread, never sent to the worker", async () => {
    await using s = await startTestServer({ server: { decode_workers: 1 } });
    const secret = "s3cr3t-value-123";
    expect((await s.post("/worker/jobs/sec/secrets", { secrets: [secret] })).status).toBe(200);
    const worker = async () =>
      Number(
        (await (await s.fetch("/metrics")).text()).match(
          /\nstroem_logs_push_decodes_worker_total (\d+)\n/,
        )?.[1],
      );
    // Another push is being handled, so a job without secrets would send this body to the worker.
    const held = await heldPush(s.url, "/worker/jobs/other/logs", body(1, 1));
    const lines = Array.from({ length: 100 }, (_, i) => ({
      stream: "stdout",
      line: `${i} ${secret} ${"y".repeat(60)}`,
    }));
    const res = await s.post("/worker/jobs/sec/logs", JSON.stringify({ step_name: "s", lines }));
    expect(res.status).toBe(200);
    expect(await worker()).toBe(0);
    expect(await held.finish()).toMatch(/^HTTP\/1\.1 200 /);
    const stored = ((await (await s.fetch("/api/jobs/sec/logs")).json()) as { logs: string }).logs;
    expect(stored).not.toContain(secret);
    expect(stored.split("\n").filter((l) => l.includes('"step":"s"'))).toHaveLength(100);
  }, 60_000);

  test("a push alone is decoded on the server's thread; one that arrives while another is handled goes to the worker", async () => {
    await using s = await startTestServer({ server: { decode_workers: 1 } });
    const worker = async () =>
      Number(
        (await (await s.fetch("/metrics")).text()).match(
          /\nstroem_logs_push_decodes_worker_total (\d+)\n/,
        )?.[1],
      );
    // One client, one push at a time: the hop to the worker and back would only add to each answer.
    for (const k of [1, 4, 7, 10, 19]) {
      const res = await s.post("/worker/jobs/alone/logs", body(0, k));
      expect(res.status).toBe(200);
    }
    expect(await worker()).toBe(0);
    // Another push is being handled (its body half-sent): this one is decoded on the worker.
    const held = await heldPush(s.url, "/worker/jobs/held/logs", body(1, 1));
    const res = await s.post("/worker/jobs/alone/logs", body(0, 22));
    expect(res.status).toBe(200);
    expect(await worker()).toBe(1);
    expect(await held.finish()).toMatch(/^HTTP\/1\.1 200 /);
    const stored = ((await (await s.fetch("/api/jobs/held/logs")).json()) as { logs: string }).logs;
    expect(stored.split("\n").filter((l) => l !== "")).toHaveLength(JSON.parse(body(1, 1)).lines.length);
  }, 60_000);
});
