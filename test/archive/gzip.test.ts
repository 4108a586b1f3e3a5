// Chunked compression: concatenated gzip members decompress to exactly the committed byte range.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { gzipFile } from "../../src/archive/gzip.ts";
import { tempDir } from "../support/server.ts";

async function gzipAll(path: string, end: number, chunk: number): Promise<{ members: number; out: Buffer }> {
  const parts: Uint8Array[] = [];
  for await (const part of gzipFile(path, end, chunk)) parts.push(part);
  return { members: parts.length, out: gunzipSync(Buffer.concat(parts)) };
}

describe("chunked gzip", () => {
  test("members of a chunked file decompress, concatenated, to the bytes up to the committed end", async () => {
    using dir = tempDir();
    const path = join(dir.path, "a.jsonl");
    const text = Array.from({ length: 1000 }, (_, i) => `{"line":"l-${i}"}\n`).join("");
    writeFileSync(path, `${text}{"torn":`);
    const r = await gzipAll(path, text.length, 1000);
    expect({ members: r.members, text: r.out.toString() }).toEqual({
      members: Math.ceil(text.length / 1000),
      text,
    });
  });

  test("an empty log gives one valid empty gzip member", async () => {
    using dir = tempDir();
    const r = await gzipAll(join(dir.path, "missing.jsonl"), 0, 1000);
    expect({ members: r.members, size: r.out.length }).toEqual({ members: 1, size: 0 });
  });

  test("a file shorter than the committed size is an error, never a shorter archive", async () => {
    using dir = tempDir();
    const path = join(dir.path, "short.jsonl");
    writeFileSync(path, "abc\n");
    await expect(gzipAll(path, 10, 1000)).rejects.toThrow(/ends at byte 4, before the 10 committed bytes/);
  });
});
