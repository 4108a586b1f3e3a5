// 10,000 malformed requests: no 5xx, no crash, nothing outside local_dir, correct data afterwards.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnServer } from "../support/process.ts";
import { makeLines, tempDir } from "../support/server.ts";

/** A small seeded PRNG (mulberry32), so a failure names a seed that reproduces it. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  return { next, int, pick, bytes };
}

const TRAVERSALS = [
  "..",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f",
  "..%5c..%5cwindows",
  "%00",
  "a%00.jsonl",
  "%2Fetc%2Fpasswd",
  "....//",
  "%252e%252e%252f",
  "%C0%AE%C0%AE%2F",
  "j%0Ab",
  "%E2%80%AE",
  "a".repeat(300),
  "..%2F_server",
];

function randomValue(r: ReturnType<typeof rng>, depth = 0): unknown {
  switch (r.int(depth > 3 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return r.next() < 0.5;
    case 2:
      return r.pick([1e308, -1e308, 2 ** 53 + 1, -0, 1.5, Number.MAX_VALUE]);
    case 3:
      return "x".repeat(r.int(50));
    case 4:
      return r.pick(["stdout", "stderr", "_server", "", "\u0000", "\ud800", "2025-02-12T10:56:45.123Z"]);
    case 5:
      return String.fromCharCode(...Array.from({ length: r.int(20) }, () => r.int(0x10000)));
    case 6:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 7:
      return Object.fromEntries(
        Array.from({ length: r.int(4) }, () => [
          r.pick([
            "step_name",
            "lines",
            "ts",
            "stream",
            "line",
            "status",
            "message",
            "__proto__",
            "constructor",
          ]),
          randomValue(r, depth + 1),
        ]),
      );
    default:
      return {
        step_name: randomValue(r, depth + 1),
        lines: [
          {
            ts: randomValue(r, depth + 1),
            stream: randomValue(r, depth + 1),
            line: randomValue(r, depth + 1),
          },
        ],
      };
  }
}

function randomRequest(r: ReturnType<typeof rng>): {
  method: string;
  path: string;
  body?: Uint8Array | string;
  headers: Record<string, string>;
} {
  const id = r.next() < 0.5 ? r.pick(TRAVERSALS) : r.pick(["j", "fuzz-1", "x.y_z", "A"]);
  const step = r.next() < 0.5 ? r.pick(TRAVERSALS) : r.pick(["build", "_server", "%20", "a%2Fb"]);
  const [method, path] = r.pick([
    ["POST", `/worker/jobs/${id}/logs`],
    ["POST", `/worker/jobs/${id}/complete`],
    ["POST", `/worker/jobs/${id}/heartbeat`],
    ["POST", `/api/jobs/${id}/events`],
    ["PUT", `/api/jobs/${id}`],
    ["POST", "/api/jobs"],
    [
      "GET",
      `/api/jobs/${id}/logs?from=${r.pick(["-1", "1e9", "abc", "999999999999999999999", ""])}&tail=${r.pick(["x", "0", "-5"])}`,
    ],
    [
      "GET",
      `/api/jobs/${id}/steps/${step}/logs?stream=${r.pick(["stdout", "x", "%00"])}&format=${r.pick(["json", "ndjson", "xml"])}`,
    ],
    ["GET", `/api/jobs?status=${r.pick(["x", "running", "%00"])}&limit=${r.pick(["-1", "1e9", "q"])}`],
    ["DELETE", `/api/jobs/${id}`],
    ["PATCH", `/worker/jobs/${id}/logs`],
  ] as const);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (r.next() < 0.05) headers["x-huge"] = "h".repeat(20_000 + r.int(100_000));
  if (r.next() < 0.1) headers["idempotency-key"] = r.pick(["", " ", "k".repeat(500), "ok-key"]);
  let body: Uint8Array | string | undefined;
  switch (r.int(6)) {
    case 0:
      body = r.bytes(r.int(2000));
      break;
    case 1:
      body = `${"[".repeat(10_000 + r.int(100_000))}${"]".repeat(r.int(3))}`;
      break;
    case 2:
      body = new Uint8Array([
        ...new TextEncoder().encode('{"step_name":"s","lines":[{"stream":"stdout","line":"'),
        0xc3,
        0x28,
        0xed,
        0xa0,
        0x80,
        ...new TextEncoder().encode('"}]}'),
      ]);
      break;
    case 3:
      body = `{"step_name":"s","lines":[{"stream":"stdout","line":"x","ts":${r.pick(["1e999", "-1", "[]", "{}", '"9999-99-99"'])}}]}`;
      break;
    default:
      body = JSON.stringify(randomValue(r));
  }
  return method === "GET" || method === "DELETE"
    ? { method, path, headers }
    : { method, path, body, headers };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)).map((p) => join(e.name, p)) : [e.name],
  );
}

describe("fuzz", () => {
  test("10,000 malformed requests: no 5xx, no crash, no file outside local_dir, and correct data afterwards", async () => {
    using root = tempDir();
    await using server = await spawnServer({}, { dir: root.path });
    const seed = Number(process.env.FUZZ_SEED ?? 20261123);
    const r = rng(seed);
    await fetch(`${server.url}/worker/jobs/keep/logs`, {
      method: "POST",
      body: JSON.stringify({ step_name: "build", lines: makeLines(3, "keep") }),
    });

    const statuses = new Map<number, number>();
    const fiveXX: string[] = [];
    const requests = Array.from({ length: 10_000 }, () => randomRequest(r));
    let i = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (i < requests.length) {
          const req = requests[i++]!;
          let status: number;
          try {
            const res = await fetch(`${server.url}${req.path}`, {
              method: req.method,
              headers: req.headers,
              ...(req.body === undefined ? {} : { body: req.body }),
            });
            status = res.status;
            await res.arrayBuffer();
          } catch {
            status = 0; // the server closed the connection (oversized headers): allowed, crashing is not
          }
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status >= 500) fiveXX.push(`${req.method} ${req.path.slice(0, 120)} → ${status}`);
        }
      }),
    );
    console.log(`fuzz (seed ${seed}): statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    expect(fiveXX).toEqual([]);
    expect(server.proc.exitCode).toBeNull();
    expect(server.stderr()).not.toContain("error:");

    // Nothing outside local_dir; inside it only job logs with valid ids and the database.
    const outside = walk(root.path).filter((p) => !p.startsWith("logs/") && !p.startsWith("config-"));
    expect(outside).toEqual([]);
    const inside = walk(join(root.path, "logs")).filter(
      (p) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.jsonl$/.test(p) && !p.startsWith("stroem-logs.db"),
    );
    expect(inside).toEqual([]);
    expect(relative(root.path, join(root.path, "logs"))).toBe("logs");

    const after = await fetch(`${server.url}/api/jobs/keep/steps/build/logs?format=ndjson`);
    expect(
      (await after.text())
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).line),
    ).toEqual(["keep-0", "keep-1", "keep-2"]);
  }, 120_000);
});
