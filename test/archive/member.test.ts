// The single-member writer: one gzip stream that every gzip reader reads whole, byte for byte.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, inflateRawSync } from "node:zlib";
import { gzipMember } from "../../src/archive/member.ts";
import { GZIP_HEADER_BYTES } from "../../src/archive/seek-index.ts";
import { writeBigLog } from "../support/biglog.ts";
import { archiveOf, jsonl } from "../support/member.ts";
import { tempDir } from "../support/server.ts";

const unzip = (gz: Uint8Array<ArrayBuffer>) => new TextDecoder().decode(Bun.gunzipSync(gz));
const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

async function run(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}

describe("single-member archive", () => {
  test("a 50 MB log round-trips byte for byte through Bun.gunzipSync, node:zlib, zcat, Python's gzip and a one-member inflate", async () => {
    using dir = tempDir();
    const path = join(dir.path, "big.jsonl");
    const { size } = writeBigLog(path, 50 * 1024 * 1024);
    const log = (await Bun.file(path).bytes()) as Uint8Array<ArrayBuffer>;
    const { gz, index } = await archiveOf(path, size);
    const gzPath = join(dir.path, "big.jsonl.gz");
    writeFileSync(gzPath, gz);
    const want = { bytes: size, sha256: sha256(log) };
    const seen = (b: Uint8Array) => ({ bytes: b.length, sha256: sha256(b) });

    // A one-member decoder: the deflate stream after the header (and its comment) must end exactly before the
    // 8-byte trailer (the engine reports the input it consumed).
    const raw = inflateRawSync(gz.subarray(GZIP_HEADER_BYTES), { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    const zcat = await run(["bash", "-c", 'zcat "$0" | sha256sum', gzPath]);
    const py = await run([
      "python3",
      "-c",
      "import gzip,hashlib,sys; d=gzip.open(sys.argv[1]).read(); print(len(d), hashlib.sha256(d).hexdigest())",
      gzPath,
    ]);
    const trailer = new DataView(gz.buffer, gz.byteOffset + gz.length - 8, 8);
    expect({
      header: [...gz.subarray(0, GZIP_HEADER_BYTES)],
      bunGunzipSync: seen(Bun.gunzipSync(gz)),
      nodeZlib: seen(gunzipSync(gz)),
      oneMember: { ...seen(raw.buffer), consumed: raw.engine.bytesWritten },
      zcat: { code: zcat.code, out: zcat.stdout.split(" ")[0], stderr: zcat.stderr },
      python: { code: py.code, out: py.stdout.trim(), stderr: py.stderr },
      crc32: trailer.getUint32(0, true),
      isize: trailer.getUint32(4, true),
      objectBytes: index.objectBytes,
    }).toEqual({
      header: [0x1f, 0x8b, 8, 0x10, 0, 0, 0, 0, 0, 3, ...Buffer.from("stroem-logs\0")],
      bunGunzipSync: want,
      nodeZlib: want,
      oneMember: { ...want, consumed: gz.length - GZIP_HEADER_BYTES - 8 },
      zcat: { code: 0, out: want.sha256, stderr: "" },
      python: { code: 0, out: `${size} ${want.sha256}`, stderr: "" },
      crc32: Bun.hash.crc32(log),
      isize: size,
      objectBytes: gz.length,
    });
    expect(index.blocks.length).toBeGreaterThanOrEqual(50);
  }, 120_000);

  test("compression threads and the calling thread write the same bytes and the same index", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const { size } = writeBigLog(path, 3 * 1024 * 1024);
    const opts = { blockBytes: 100_000 };
    const threads = await archiveOf(path, size, { ...opts, workers: 2 });
    const inline = await archiveOf(path, size, { ...opts, workers: 0 });
    expect(threads.index.blocks.length).toBeGreaterThan(30);
    expect({ same: threads.gz.equals(inline.gz), index: threads.index }).toEqual({
      same: true,
      index: inline.index,
    });
  });

  test("compression threads that cannot start: the archive is finished on the calling thread, the same bytes, and says why", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const { size } = writeBigLog(path, 3 * 1024 * 1024);
    const broken = join(dir.path, "broken-worker.ts");
    writeFileSync(broken, 'throw new Error("this thread cannot start");\n');
    const opts = { blockBytes: 100_000, workers: 2 };
    const a = gzipMember(path, size, { ...opts, workerUrl: broken });
    const parts: Uint8Array[] = [];
    for await (const c of a.body) parts.push(c);
    const inline = await archiveOf(path, size, { ...opts, workers: 0 });
    expect({ same: Buffer.concat(parts).equals(inline.gz), failed: a.threadsFailed }).toEqual({
      same: true,
      failed: expect.stringMatching(/^compression thread failed: .*this thread cannot start/),
    });
  });

  test("a compression thread that exits while blocks are in flight: the archive is finished on the calling thread", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const { size } = writeBigLog(path, 3 * 1024 * 1024);
    const quitter = join(dir.path, "quitting-worker.ts");
    writeFileSync(quitter, "self.onmessage = () => process.exit(0);\n");
    const opts = { blockBytes: 100_000, workers: 2 };
    const a = gzipMember(path, size, { ...opts, workerUrl: quitter });
    const parts: Uint8Array[] = [];
    for await (const c of a.body) parts.push(c);
    const inline = await archiveOf(path, size, { ...opts, workers: 0 });
    expect({ same: Buffer.concat(parts).equals(inline.gz), failed: a.threadsFailed }).toEqual({
      same: true,
      failed: "a compression thread exited",
    });
  });

  test("the last block holds about tailBytes of the log (at most half a block) from a line's start: a tail inflates only it", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const text = Array.from({ length: 3000 }, (_, i) => jsonl("build", `line ${i}`)).join("");
    writeFileSync(path, text);
    const line = jsonl("build", "line 1000").length;
    for (const tailBytes of [2_000, 4_999, 5_000, 50_000]) {
      const { gz, index } = await archiveOf(path, text.length, { blockBytes: 10_000, tailBytes });
      const last = index.blocks.at(-1)!;
      const before = index.blocks.at(-2)!;
      const full = Math.min(tailBytes, 5_000);
      expect({
        same: unzip(gz) === text,
        lastFromLineStart: text[last.u - 1],
        lastBytes: last.bytes >= full && last.bytes < full + line,
        // Only the block before the tail is cut short for it; every other block is as full as before.
        others: index.blocks.slice(0, -2).every((b) => b.bytes > 10_000 - 2 * line),
        before: before.bytes > 0 && text[before.u + before.bytes - 1],
      }).toEqual({ same: true, lastFromLineStart: "\n", lastBytes: true, others: true, before: "\n" });
    }
  });

  test("only the committed bytes are archived, however much more the file holds", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const text = Array.from({ length: 3000 }, (_, i) => jsonl("build", `line ${i}`)).join("");
    writeFileSync(path, `${text}{"torn":`);
    const { gz, index } = await archiveOf(path, text.length, { blockBytes: 10_000 });
    expect({ text: unzip(gz), lines: index.lines, logBytes: index.logBytes }).toEqual({
      text,
      lines: 3000,
      logBytes: text.length,
    });
  });

  test("an empty log is one valid empty gzip member with an empty index", async () => {
    using dir = tempDir();
    const gzPath = join(dir.path, "empty.jsonl.gz");
    const { gz, index } = await archiveOf(join(dir.path, "missing.jsonl"), 0);
    writeFileSync(gzPath, gz);
    const zcat = await run(["zcat", gzPath]);
    expect({
      bun: Bun.gunzipSync(gz).length,
      zcat,
      bytes: gz.length,
      index: {
        lines: index.lines,
        blocks: index.blocks,
        logBytes: index.logBytes,
        objectBytes: index.objectBytes,
      },
    }).toEqual({
      bun: 0,
      zcat: { code: 0, stdout: "", stderr: "" },
      // The header with its comment, an empty final block, the trailer.
      bytes: GZIP_HEADER_BYTES + 10,
      index: { lines: 0, blocks: [], logBytes: 0, objectBytes: GZIP_HEADER_BYTES + 10 },
    });
  });

  test("blocks end at line ends; a line longer than a block runs on through the next blocks", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const huge = jsonl("huge", "h".repeat(2500));
    const text = `${jsonl("a", "one")}${jsonl("a", "two")}${huge}${jsonl("b", "three")}`;
    writeFileSync(path, text);
    const { gz, index } = await archiveOf(path, text.length, { blockBytes: 1000, tailBytes: 0 });
    const cuts = index.blocks.map((b) => text.slice(b.u, b.u + b.bytes));
    expect(unzip(gz)).toBe(text);
    // Block 0 holds the two short lines; the huge line fills blocks 1-2 and ends in block 3 with "three".
    expect(
      index.blocks.map((b, i) => ({
        bytes: b.bytes,
        line: b.line,
        newlines: b.newlines,
        midLine: b.midLine,
        steps: b.steps?.map((s) => index.steps[s]),
        endsLine: cuts[i]!.endsWith("\n"),
      })),
    ).toEqual([
      {
        bytes: 2 * jsonl("a", "one").length,
        line: 0,
        newlines: 2,
        midLine: false,
        steps: ["a"],
        endsLine: true,
      },
      { bytes: 1000, line: 2, newlines: 0, midLine: false, steps: ["huge"], endsLine: false },
      { bytes: 1000, line: 2, newlines: 0, midLine: true, steps: ["huge"], endsLine: false },
      {
        bytes: huge.length - 2000 + jsonl("b", "three").length,
        line: 2,
        newlines: 2,
        midLine: true,
        steps: ["huge", "b"],
        endsLine: true,
      },
    ]);
  });

  test("a log of one line longer than many blocks, without a final newline, archives whole", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const text = `{"ts":"2025-02-12T10:56:45.000Z","stream":"stdout","step":"one","line":"${"x".repeat(3_500_000)}"}`;
    writeFileSync(path, text);
    const { gz, index } = await archiveOf(path, text.length, { blockBytes: 1024 * 1024, tailBytes: 0 });
    expect({
      same: unzip(gz) === text,
      lines: index.lines,
      blocks: index.blocks.map((b) => [b.line, b.newlines, b.midLine, b.steps]),
    }).toEqual({
      same: true,
      lines: 1,
      blocks: [
        [0, 0, false, [0]],
        [0, 0, true, [0]],
        [0, 0, true, [0]],
        [0, 0, true, [0]],
      ],
    });
  });

  test("a file shorter than the committed size is an error, never a shorter archive", async () => {
    using dir = tempDir();
    const path = join(dir.path, "short.jsonl");
    writeFileSync(path, "abc\n");
    await expect(archiveOf(path, 10)).rejects.toThrow(/ends at byte 4, before the 10 committed bytes/);
  });

  test("the index is known only once the body was read to its end", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    writeFileSync(path, jsonl("a", "x"));
    const a = gzipMember(path, jsonl("a", "x").length);
    expect(() => a.index()).toThrow(/once its body has been read to the end/);
  });

  test("a body left after its first chunk stops its compression threads: the process exits by itself", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const { size } = writeBigLog(path, 8 * 1024 * 1024);
    const script = join(dir.path, "early.ts");
    writeFileSync(
      script,
      `import { gzipMember } from ${JSON.stringify(join(import.meta.dir, "../../src/archive/member.ts"))};
       const a = gzipMember(${JSON.stringify(path)}, ${size}, { blockBytes: 65536, workers: 2 });
       let n = 0;
       for await (const c of a.body) if (++n === 3) break;
       console.log("stopped after", n);`,
    );
    const p = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
    const [stdout, stderr, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    clearTimeout(timer);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: "stopped after 3\n", stderr: "" });
  });
});
