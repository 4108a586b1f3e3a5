// The reader on real files (a log removed between choosing its tier and reading it is a retryable 503), and cutLine.
import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { encodeLine } from "../../src/core/line.ts";
import { AppError } from "../../src/errors.ts";
import { createReader, cutLine } from "../../src/logs/read.ts";
import { setupJobs } from "../support/jobs.ts";
import { tempDir } from "../support/server.ts";

describe("reader", () => {
  test("a local log removed after its tier was chosen answers 503 log_moved with Retry-After, not a 500", async () => {
    using dir = tempDir();
    await using t = await setupJobs(dir.path, { maxLineBytes: 1024 });
    await t.registry.push("j", "s", [{ stream: "stdout", line: "x" }], null);
    const reader = createReader({
      store: t.store,
      getJob: t.registry.get,
      checkpoint: t.registry.checkpoint,
    });
    const selection = (await reader.select("j", { from: 0, filter: {} }))!;
    rmSync(join(dir.path, "j.jsonl")); // retention got there first
    const err = await selection.batches[Symbol.asyncIterator]()
      .next()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect([(err as AppError).status, (err as AppError).code, (err as AppError).headers]).toEqual([
      503,
      "log_moved",
      { "Retry-After": "1" },
    ]);
  });
});

describe("cutLine: a stored line cut for a size-bound answer", () => {
  const stored = (line: string) =>
    encodeLine("2025-02-12T10:56:45.123Z", "stderr", '"build"', line).trimEnd();

  test("a log line of any text is cut within the size, keeps its fields, a prefix of its text and the count cut", () => {
    const texts = [
      "a".repeat(10_000),
      '"'.repeat(10_000), // every character escaped: twice as long encoded
      "\u0001".repeat(10_000), // six bytes a character encoded
      "é€😀".repeat(2_000), // two, three and four bytes a character
      `${"x".repeat(4_000)}\n${"\\".repeat(4_000)}`,
    ];
    for (const text of texts) {
      for (const max of [200, 1_000, 4_096]) {
        const cut = cutLine(stored(text), max);
        const o = JSON.parse(cut) as Record<string, string>;
        const m = /…\[truncated (\d+) bytes\]$/.exec(o.line!);
        const kept = o.line!.slice(0, m?.index ?? 0);
        expect({
          fits: Buffer.byteLength(cut) <= max,
          fields: { ...o, line: "cut" } as Record<string, string>,
          prefix: text.startsWith(kept),
          counted: Buffer.byteLength(kept) + Number(m?.[1]),
        }).toEqual({
          fits: true,
          fields: { ts: "2025-02-12T10:56:45.123Z", stream: "stderr", step: "build", line: "cut" },
          prefix: true,
          counted: Buffer.byteLength(text),
        });
      }
    }
  });

  test("a line that fits is unchanged; plain text (a legacy line) is cut as text", () => {
    expect(cutLine(stored("short"), 1_000)).toBe(stored("short"));
    const legacy = `plain ${"é".repeat(1_000)}`;
    const cut = cutLine(legacy, 500);
    const m = /…\[truncated (\d+) bytes\]$/.exec(cut)!;
    expect([
      Buffer.byteLength(cut) <= 500,
      legacy.startsWith(cut.slice(0, m.index)),
      Number(m[1]) + Buffer.byteLength(cut.slice(0, m.index)),
    ]).toEqual([true, true, Buffer.byteLength(legacy)]);
  });
});
