// The push decode pool: what a worker decodes is what the server's thread decodes, byte for byte and error for
// error, whatever the order the answers come in, and a worker that fails costs no request its answer.
import { afterEach, describe, expect, test } from "bun:test";
import { AppError } from "../../src/errors.ts";
import { type DecodedPush, decodePush } from "../../src/ingest/decode.ts";
import { createDecodePool, INLINE_BYTES, MAX_QUEUE, type PushDecoder } from "../../src/ingest/decode-pool.ts";

const NOW = "2026-12-01T00:00:00.000Z";
const MAX_LINE = 8 * 1024;
const enc = new TextEncoder();
const support = (f: string) => new URL(`../support/${f}`, import.meta.url).href;
const FAILING = support("decode-worker-fails-at-once.ts");
const FLAKY = support("decode-worker-fails-after-3.ts");

/** A deterministic generator (mulberry32), so a failure names a seed that reproduces it. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  "plain",
  "ünïcødé",
  "日本語",
  "🚀",
  '"quoted"',
  "back\\slash",
  "tab\tx",
  "\u0000nul",
  "\u2028ls",
  "\r",
];
const STAMPS = [
  undefined,
  "2025-02-12T10:56:45.123456789Z",
  "2025-02-12T11:56:45+01:00",
  "2025-02-12 10:56:45.5Z",
];

/** A valid push body of more than INLINE_BYTES, with every kind of text, timestamp form and an over-long line. */
function validBody(seed: number): Uint8Array {
  const r = rng(seed);
  const lines = Array.from({ length: 40 + Math.floor(r() * 200) }, (_, i) => {
    let line = "";
    const n = Math.floor(r() * 12);
    for (let k = 0; k < n; k++) line += PIECES[Math.floor(r() * PIECES.length)]!;
    if (i === 7) line += "x".repeat(MAX_LINE + 100); // cut to max_line_bytes with a marker
    const ts = STAMPS[Math.floor(r() * STAMPS.length)];
    return { ...(ts === undefined ? {} : { ts }), stream: r() < 0.5 ? "stdout" : "stderr", line };
  });
  const body = { step_name: `step-${seed % 5}`, lines, ...(seed % 3 === 0 ? { batch_id: `b-${seed}` } : {}) };
  return enc.encode(JSON.stringify(body));
}

/** Bodies the route refuses, each padded past INLINE_BYTES (JSON allows trailing whitespace) so a worker gets it. */
const pad = (s: string) => `${s}${" ".repeat(INLINE_BYTES + 10)}`;
const line = (l: Record<string, unknown>) => pad(JSON.stringify({ step_name: "s", lines: [l] }));
const INVALID: Record<string, Uint8Array> = {
  "not JSON": enc.encode(pad('{"step_name": "s", "lines": [')),
  "not UTF-8": Uint8Array.from([...enc.encode(pad('{"step_name":"s","lines":[]}')), 0xff, 0xfe]),
  "an array": enc.encode(pad("[1, 2]")),
  "only whitespace": enc.encode(pad("")),
  "no lines": enc.encode(pad('{"step_name": "s", "lines": []}')),
  "an unknown key": enc.encode(pad('{"step_name": "s", "lines": [], "extra": 1}')),
  "the server's step": enc.encode(
    pad('{"step_name": "_server", "lines": [{"stream": "stdout", "line": "x"}]}'),
  ),
  "a bad stream": enc.encode(line({ stream: "stdlog", line: "x" })),
  "a bad timestamp": enc.encode(line({ ts: "yesterday", stream: "stdout", line: "x" })),
  "a line that is not a string": enc.encode(line({ stream: "stdout", line: 42 })),
};

type Outcome = { ok: DecodedPush } | { error: { status: number; code: string; message: string } };
async function outcome(p: Promise<DecodedPush> | (() => DecodedPush)): Promise<Outcome> {
  try {
    return { ok: typeof p === "function" ? p() : await p };
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    return { error: { status: e.status, code: e.code, message: e.message } };
  }
}
const inline = (body: Uint8Array) => outcome(() => decodePush(body, NOW, MAX_LINE, null));

let pools: PushDecoder[] = [];
const pool = (o: { workers: number; url?: string }) => {
  const p = createDecodePool({ ...o, maxLineBytes: MAX_LINE });
  pools.push(p);
  return p;
};
afterEach(() => {
  for (const p of pools) p.close();
  pools = [];
});

describe("push decode pool", () => {
  test("200 random bodies decode on the workers byte for byte as on the server's thread, all in flight at once", async () => {
    const decoder = pool({ workers: 2 });
    const bodies = Array.from({ length: 200 }, (_, seed) => validBody(seed));
    for (const b of bodies) expect(b.length).toBeGreaterThanOrEqual(INLINE_BYTES);
    const got = await Promise.all(bodies.map((b) => outcome(decoder.decode(b, NOW))));
    for (const [seed, b] of bodies.entries()) {
      const want = await inline(b);
      expect({ seed, ...got[seed]! }).toEqual({ seed, ...want });
      expect("ok" in want && want.ok.truncated).toBeGreaterThanOrEqual(1);
    }
    // Both threads did a share: two workers hold MAX_QUEUE each and take more as they answer; the rest is
    // decoded here.
    const { worker, here } = decoder.counts();
    expect(worker + here).toBe(200);
    expect(worker).toBeGreaterThanOrEqual(2 * MAX_QUEUE);
    expect(here).toBeGreaterThan(0);
  });

  test("every refused body gets the same status, code and message from a worker as from the server's thread", async () => {
    const decoder = pool({ workers: 1 });
    for (const [what, body] of Object.entries(INVALID)) {
      const want = await inline(body);
      expect({ what, refused: "error" in want }).toEqual({ what, refused: true });
      expect({ what, ...(await outcome(decoder.decode(body, NOW))) }).toEqual({ what, ...want });
    }
  });

  test("a worker that fails mid-stream costs no request its answer, and another worker takes over", async () => {
    const decoder = pool({ workers: 1, url: FLAKY });
    const bodies = Array.from({ length: 12 }, (_, seed) => validBody(1000 + seed));
    // One at a time: the worker answers three, fails on the fourth (decoded here instead), a new one answers
    // three more, and so on.
    for (const b of bodies) expect(await outcome(decoder.decode(b, NOW))).toEqual(await inline(b));
    expect(decoder.counts()).toEqual({ worker: 9, here: 3 });
    // Many at once: those the failing worker held are decoded here.
    const got = await Promise.all(bodies.map((b) => outcome(decoder.decode(b, NOW))));
    for (const [i, b] of bodies.entries()) expect(got[i]).toEqual(await inline(b));
  });

  test("a worker that cannot answer at all turns the pool off: every body is decoded on the server's thread", async () => {
    const errors: string[] = [];
    const decoder = createDecodePool({
      workers: 1,
      maxLineBytes: MAX_LINE,
      url: FAILING,
      log: { error: (m: string) => errors.push(m) } as never,
    });
    pools.push(decoder);
    const bodies = Array.from({ length: 6 }, (_, seed) => validBody(2000 + seed));
    for (const b of bodies) expect(await outcome(decoder.decode(b, NOW))).toEqual(await inline(b));
    expect(decoder.counts()).toEqual({ worker: 0, here: 6 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("decoded on the server's thread from now on");
  });

  test("more bodies than a worker holds are shared with the server's thread, and close() answers what is left", async () => {
    const decoder = pool({ workers: 1 });
    const bodies = Array.from({ length: MAX_QUEUE * 4 }, (_, seed) => validBody(3000 + seed));
    const pending = bodies.map((b) => outcome(decoder.decode(b, NOW)));
    decoder.close();
    const got = await Promise.all(pending);
    for (const [i, b] of bodies.entries()) expect(got[i]).toEqual(await inline(b));
    expect(decoder.counts().here).toBe(bodies.length); // MAX_QUEUE sent, then drained here at close
  });

  test("a burst past what the worker holds waits in a backlog: the worker takes from it as it answers, the server's thread one body per turn", async () => {
    const decoder = pool({ workers: 1 });
    await decoder.decode(validBody(4000), NOW); // the worker is up
    const before = decoder.counts();
    // ~100 ms of decoding in all: time for the worker to answer many times over, however busy the machine.
    const big = (seed: number) => {
      const lines = Array.from({ length: 800 }, (_, i) => ({
        stream: "stdout",
        line: `${seed}:${i} ${"y".repeat(100)}`,
      }));
      return enc.encode(JSON.stringify({ step_name: "burst", lines }));
    };
    const bodies = Array.from({ length: 100 }, (_, i) => big(i));
    let settled = 0;
    const pending = bodies.map((b) => outcome(decoder.decode(b, NOW)).finally(() => settled++));
    // The next turn comes before the backlog is done: the server's thread decoded one body of it in the turn
    // before, not all that its worker could not hold.
    const atNextTurn = await new Promise<number>((resolve) => setImmediate(() => resolve(settled)));
    expect(atNextTurn).toBeLessThan(10);
    const got = await Promise.all(pending);
    for (const [i, b] of bodies.entries()) expect(got[i]).toEqual(await inline(b));
    const worker = decoder.counts().worker - before.worker;
    const here = decoder.counts().here - before.here;
    expect(worker + here).toBe(bodies.length);
    expect(worker).toBeGreaterThan(MAX_QUEUE); // it took bodies from the backlog
    expect(here).toBeGreaterThan(0);
  });

  test("lineBytes is the UTF-8 size of the lines' texts as sent, for an ASCII body (with escapes or none) and any other", () => {
    const escaped = enc.encode(
      '{"step_name":"s","lines":[{"stream":"stdout","line":"caf\\u00e9 \\ud83d\\ude80 \\\\u"}]}',
    );
    expect(decodePush(escaped, NOW, MAX_LINE, null).lineBytes).toBe(Buffer.byteLength("café 🚀 \\u"));
    for (const seed of [1, 2, 3, 4, 5]) {
      const body = validBody(seed);
      const sent = JSON.parse(new TextDecoder().decode(body)) as { lines: { line: string }[] };
      const want = sent.lines.reduce((n, l) => n + Buffer.byteLength(l.line), 0);
      expect(decodePush(body, NOW, MAX_LINE, null).lineBytes).toBe(want);
      const ascii = enc.encode(
        JSON.stringify({ ...sent, lines: sent.lines.map((l, i) => ({ ...l, line: `a${i}` })) }),
      );
      expect(decodePush(ascii, NOW, MAX_LINE, null).lineBytes).toBe(
        sent.lines.reduce((n, _, i) => n + `a${i}`.length, 0),
      );
    }
  });

  test("a small body is decoded in place, without a worker", async () => {
    const decoder = pool({ workers: 1, url: FAILING }); // would fail if it were asked
    const small = enc.encode(JSON.stringify({ step_name: "s", lines: [{ stream: "stdout", line: "hi" }] }));
    expect(small.length).toBeLessThan(INLINE_BYTES);
    expect(await outcome(decoder.decode(small, NOW))).toEqual(await inline(small));
    expect(decoder.counts()).toEqual({ worker: 0, here: 1 });
  });
});
