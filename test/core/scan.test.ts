// Splitting a byte stream into lines: the needle-filtered splitter agrees with the plain one, line for line.
import { describe, expect, test } from "bun:test";
import { splitLines, splitLinesWith } from "../../src/core/scan.ts";

async function all(gen: AsyncIterable<string[]>): Promise<string[]> {
  const out: string[] = [];
  for await (const parts of gen) out.push(...parts);
  return out;
}

/** `bytes` in chunks cut at `cuts`, each chunk handed out in one reused buffer (as the file reader does). */
async function* chunked(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  const buf = new Uint8Array(bytes.length);
  let at = 0;
  for (const cut of [...cuts.map((c) => Math.min(c, bytes.length)), bytes.length]) {
    if (cut <= at) continue;
    buf.set(bytes.subarray(at, cut), 0);
    yield buf.subarray(0, cut - at);
    buf.fill(0xaa, 0, cut - at); // a consumer that kept a view of the last chunk would see this
    at = cut;
  }
}

/** A pseudo-random generator with a seed, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const NEEDLE = '"step":"rare"';
const enc = new TextEncoder();

function randomLog(r: () => number): Uint8Array {
  const pieces: Uint8Array[] = [];
  if (r() < 0.3) pieces.push(new Uint8Array([0xef, 0xbb, 0xbf])); // a byte order mark at the start
  const n = Math.floor(r() * 40);
  for (let i = 0; i < n; i++) {
    const kind = r();
    const step = kind < 0.3 ? "rare" : kind < 0.4 ? "rarer" : "build";
    const text = ["plain", "ünïcødé ✓", "🎉 emoji", "x".repeat(Math.floor(r() * 300))][Math.floor(r() * 4)]!;
    pieces.push(enc.encode(`{"stream":"stdout","step":"${step}","line":"${text}"}`));
    if (r() < 0.1) pieces.push(new Uint8Array([0xe2, 0x82])); // a cut multi-byte character
    if (r() < 0.05) pieces.push(new Uint8Array([0xef, 0xbb, 0xbf])); // a mark inside the log
    if (r() < 0.1) pieces.push(enc.encode(NEEDLE)); // the needle outside any JSON structure
    if (i < n - 1 || r() < 0.5) pieces.push(new Uint8Array([10]));
  }
  if (r() < 0.2) pieces.push(new Uint8Array([10, 10])); // empty lines
  return Buffer.concat(pieces);
}

describe("splitting lines", () => {
  test("the needle splitter gives every line its place, and the lines holding the needle decoded as splitLines decodes them", async () => {
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed);
      const bytes = randomLog(r);
      const cuts = Array.from({ length: Math.floor(r() * 12) }, () => Math.floor(r() * bytes.length)).sort(
        (a, b) => a - b,
      );
      const want = (await all(splitLines(chunked(bytes, cuts)))).map((l) => (l.includes(NEEDLE) ? l : ""));
      const got = await all(splitLinesWith(chunked(bytes, cuts), NEEDLE));
      expect({ seed, got }).toEqual({ seed, got: want });
    }
  });

  test("a needle cut by a chunk boundary, a line longer than a chunk, a last line without a newline", async () => {
    const log = enc.encode(`a\n{"step":"rare","x":1}\n${"y".repeat(1000)}${NEEDLE}\nb\n${NEEDLE}`);
    for (let cut = 1; cut < log.length; cut++) {
      const got = await all(splitLinesWith(chunked(log, [cut, cut + 7, cut + 300]), NEEDLE));
      expect({ cut, got }).toEqual({
        cut,
        got: ["", '{"step":"rare","x":1}', `${"y".repeat(1000)}${NEEDLE}`, "", NEEDLE],
      });
    }
  });
});
