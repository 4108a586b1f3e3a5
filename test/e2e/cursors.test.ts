// Cursors (from, limit, tail), read truncation and the ndjson stream, on a log of 200,000 lines.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { makeLines, parseJsonl, startTestServer, type TestServer } from "../support/server.ts";

const N = 200_000;
let s: TestServer;
let all: string[];

interface ReadBody {
  logs: string;
  from: number;
  next: number;
  source: string;
  complete: boolean;
  truncated: boolean;
}

async function read(path: string): Promise<ReadBody> {
  const r = await s.fetch(path);
  expect(r.status).toBe(200);
  return (await r.json()) as ReadBody;
}
const texts = (body: ReadBody) => parseJsonl(body.logs).map((l) => l.line);
const range = (a: number, b: number, prefix = "l") =>
  Array.from({ length: b - a }, (_, i) => `${prefix}-${a + i}`);

describe("cursors on a 200,000-line log", () => {
  beforeAll(async () => {
    s = await startTestServer({ limits: { max_read_bytes: "1MiB" } });
    // Two steps interleaved in 1,000-line batches: even batches "build" (stdout), odd batches "test" (stderr).
    for (let b = 0; b < N / 1000; b++) {
      const step = b % 2 === 0 ? "build" : "test";
      const stream = b % 2 === 0 ? "stdout" : "stderr";
      const r = await s.post("/worker/jobs/big/logs", {
        step_name: step,
        lines: makeLines(1000, "l", stream, b * 1000),
      });
      expect(r.status).toBe(200);
    }
    all = (await Bun.file(join(s.dir, "big.jsonl")).text()).split("\n").slice(0, -1);
    expect(all.length).toBe(N);
  });
  afterAll(async () => {
    await s[Symbol.asyncDispose]();
  });

  test("from and limit return exactly that window, and next continues it", async () => {
    const body = await read("/api/jobs/big/logs?from=150123&limit=5");
    expect({ ...body, logs: texts(body) }).toEqual({
      logs: range(150123, 150128),
      from: 150123,
      next: 150128,
      source: "local",
      complete: false,
      truncated: false,
    });
    expect(body.logs).toBe(`${all.slice(150123, 150128).join("\n")}\n`);
  });

  test("tail returns the last lines and from points at the first of them", async () => {
    const body = await read("/api/jobs/big/logs?tail=3");
    expect([texts(body), body.from, body.next]).toEqual([range(N - 3, N), N - 3, N]);
  });

  test("tail of a step counts lines of that step only", async () => {
    const body = await read("/api/jobs/big/steps/build/logs?tail=2");
    // The last build batch is 198: lines 198000..198999.
    expect([texts(body), body.from, body.next]).toEqual([range(198998, 199000), 198998, N]);
  });

  test("from and limit on a step skip the other step's lines but keep global line numbers", async () => {
    const body = await read("/api/jobs/big/steps/test/logs?from=3998&limit=4");
    expect([texts(body), body.next]).toEqual([[...range(3998, 4000), ...range(5000, 5002)], 5002]);
  });

  test("the stream filter on the whole log selects one stream", async () => {
    const body = await read("/api/jobs/big/logs?stream=stderr&from=999&limit=2");
    expect([texts(body), body.next]).toEqual([range(1000, 1002), 1002]);
  });

  test("a windowed read past max_read_bytes is truncated at a line boundary and next says where to continue", async () => {
    const first = await read("/api/jobs/big/logs?from=0");
    expect(first.truncated).toBe(true);
    expect(Buffer.byteLength(first.logs)).toBeLessThanOrEqual(1024 * 1024);
    const got = texts(first);
    expect(got).toEqual(range(0, got.length));
    expect(first.next).toBe(got.length);
    const second = await read(`/api/jobs/big/logs?from=${first.next}&limit=2`);
    expect(texts(second)).toEqual(range(got.length, got.length + 2));
  });

  test("a read with no window is the whole log past max_read_bytes, streamed as the same JSON answer", async () => {
    const r = await s.fetch("/api/jobs/big/logs");
    const text = await r.text();
    const body = JSON.parse(text) as ReadBody;
    const head = await s.fetch("/api/jobs/big/logs", { method: "HEAD" });
    expect({
      status: r.status,
      type: r.headers.get("content-type"),
      length: r.headers.get("content-length"),
      overMax: Buffer.byteLength(body.logs) > 1024 * 1024,
      keys: Object.keys(body),
      body: { ...body, logs: body.logs === `${all.join("\n")}\n` },
      head: [head.status, head.headers.get("content-type"), await head.text()],
    }).toEqual({
      status: 200,
      type: "application/json",
      length: null,
      overMax: true,
      keys: ["logs", "from", "next", "source", "complete", "truncated"],
      body: { logs: true, from: 0, next: N, source: "local", complete: false, truncated: false },
      head: [200, "application/json", ""],
    });
  });

  test("a step read with no window is whole too, and skips the other step's blocks", async () => {
    const body = await read("/api/jobs/big/steps/test/logs");
    const want = all.filter((l) => l.includes('"step":"test"'));
    expect([body.logs === `${want.join("\n")}\n`, body.next, body.truncated]).toEqual([true, N, false]);
  });

  test("from at or past the end returns nothing and keeps the cursor", async () => {
    expect(await read(`/api/jobs/big/logs?from=${N}`)).toEqual({
      logs: "",
      from: N,
      next: N,
      source: "local",
      complete: false,
      truncated: false,
    });
    expect((await read(`/api/jobs/big/logs?from=${N + 50}`)).next).toBe(N + 50);
  });

  test("the ndjson form streams the whole log with no size limit, byte for byte", async () => {
    const r = await s.fetch("/api/jobs/big/logs?format=ndjson");
    expect([r.status, r.headers.get("content-type"), r.headers.get("x-stroem-source")]).toEqual([
      200,
      "application/x-ndjson; charset=utf-8",
      "local",
    ]);
    expect(await r.text()).toBe(`${all.join("\n")}\n`);
    const accept = await s.fetch("/api/jobs/big/steps/test/logs?from=199990", {
      headers: { accept: "application/x-ndjson" },
    });
    expect(await accept.text()).toBe(`${all.slice(199990).join("\n")}\n`);
  });

  test("HEAD answers the headers of the GET, without a body, for JSON and ndjson and a job with nothing stored", async () => {
    const heads = async (path: string, headers: Record<string, string> = {}) => {
      const [get, head] = await Promise.all([
        s.fetch(path, { headers }),
        s.fetch(path, { method: "HEAD", headers }),
      ]);
      const pick = (r: Response) => ({
        status: r.status,
        type: r.headers.get("content-type"),
        source: r.headers.get("x-stroem-source"),
      });
      const getBytes = (await get.arrayBuffer()).byteLength;
      return {
        get: pick(get),
        head: pick(head),
        // A JSON answer states its length; a streamed one cannot before it is read.
        length: head.headers.get("content-length") ?? head.headers.get("transfer-encoding"),
        getBytes,
        headBody: await head.text(),
      };
    };
    const json = await heads("/api/jobs/big/logs?from=10&limit=3");
    expect(json).toEqual({
      get: { status: 200, type: "application/json", source: null },
      head: json.get,
      length: String(json.getBytes),
      getBytes: json.getBytes,
      headBody: "",
    });
    const ndjson = await heads("/api/jobs/big/logs?format=ndjson&tail=3");
    expect(ndjson).toEqual({
      get: { status: 200, type: "application/x-ndjson; charset=utf-8", source: "local" },
      head: ndjson.get,
      length: "chunked",
      getBytes: ndjson.getBytes,
      headBody: "",
    });
    const accept = await heads("/api/jobs/big/logs", { accept: "application/x-ndjson" });
    expect([accept.head, accept.length]).toEqual([ndjson.get, "chunked"]);
    // Nothing stored reads as an empty log (as Strøm answers), for HEAD as for GET.
    const unknown = await heads("/api/jobs/nope/logs?format=ndjson");
    expect([unknown.get, unknown.head, unknown.getBytes, unknown.headBody]).toEqual([
      { status: 200, type: "application/x-ndjson; charset=utf-8", source: "none" },
      unknown.get,
      0,
      "",
    ]);
    const bad = await heads("/api/jobs/big/logs?format=ndjson&tail=x");
    expect([bad.get.status, bad.head.status]).toEqual([400, 400]);
  });

  test("reading from line 190,000 costs about the same as from line 0 (no scan from the start)", async () => {
    const paths = {
      head: "/api/jobs/big/logs?from=0&limit=100",
      deep: "/api/jobs/big/logs?from=190000&limit=100",
      tail: "/api/jobs/big/logs?tail=100",
    };
    const fastest = { head: Infinity, deep: Infinity, tail: Infinity };
    // Interleaved rounds, and each kind's fastest read: on a busy machine noise only ever adds time, and a
    // stall lands on one read, not on one kind. A scan from the start (~100x a head read) costs in every read.
    await read(paths.head); // warm up
    for (let round = 0; round < 20; round++) {
      for (const kind of ["head", "deep", "tail"] as const) {
        const t = performance.now();
        await read(paths[kind]);
        fastest[kind] = Math.min(fastest[kind], performance.now() - t);
      }
    }
    const ms = (n: number) => `${n.toFixed(2)} ms`;
    console.log(
      `cursors: fastest of 20 reads of 100 lines from line 0 ${ms(fastest.head)}, from line 190,000 ${ms(fastest.deep)}, tail ${ms(fastest.tail)}`,
    );
    expect({
      deep: fastest.deep < fastest.head * 5 + 2.5,
      tail: fastest.tail < fastest.head * 5 + 2.5,
    }).toEqual({ deep: true, tail: true });
  });
});
