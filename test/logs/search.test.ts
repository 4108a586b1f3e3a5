import { expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Job as JobRow } from "../../src/core/job.ts";
import { createRegexPool } from "../../src/logs/regex-pool.ts";
import { createSearch, type SearchSpec } from "../../src/logs/search.ts";
import { tempDir } from "../support/server.ts";

/** A 4 MB log (several read blocks) with a match every 997 lines; a clock that moves 1 s per look. */
function setup(dir: string, checkpoints: Array<{ line: number; offset: number }>) {
  const lines: string[] = [];
  for (let i = 0; i < 36_000; i++) {
    lines.push(
      JSON.stringify({
        ts: "2025-02-12T10:56:45.123Z",
        stream: "stdout",
        step: "s",
        line: i % 997 === 5 ? `hit ${i}` : `line ${i}`,
      }),
    );
  }
  const path = join(dir, "j.jsonl");
  writeFileSync(path, `${lines.join("\n")}\n`);
  let offset = 0;
  const offsets = lines.map((l) => {
    const o = offset;
    offset += Buffer.byteLength(l) + 1;
    return o;
  });
  const job = { id: "j", line_count: lines.length, byte_count: statSync(path).size } as JobRow;
  let now = 0;
  const regex = createRegexPool();
  const search = createSearch({
    store: { jsonlPath: (id) => join(dir, `${id}.jsonl`), legacyPath: (id) => join(dir, `${id}.log`) },
    getJob: async () => job,
    sourceOf: async () => "local",
    checkpoint: async (_id, line) => {
      const cps = checkpoints
        .map((c) => ({ line: c.line, offset: offsets[c.line]! }))
        .filter((c) => c.line <= line);
      return cps[cps.length - 1] ?? { line: 0, offset: 0 };
    },
    regex,
    clock: () => (now += 1000),
  });
  const expected = lines.flatMap((l, i) => (l.includes("hit ") ? [i] : []));
  return { search, expected, regex, total: lines.length };
}

async function all(s: ReturnType<typeof setup>, spec: SearchSpec) {
  const found: number[] = [];
  const cursors: number[] = [];
  for (let from = 0; ; ) {
    const page = await s.search.search("j", spec, { from, limit: 1000, budgetMs: 500 });
    if (!page!.done) expect(page!.next).toBeGreaterThan(from);
    found.push(...page!.matches);
    cursors.push(page!.next);
    if (page!.done) return { found, cursors };
    from = page!.next;
  }
}

for (const [name, cps] of [
  ["the sparse index", Array.from({ length: 35 }, (_, i) => ({ line: i * 1024, offset: 0 }))],
  ["no checkpoint but line 0", []],
] as const) {
  test(`a page past its time budget stops at a block and its cursor continues exactly there (${name})`, async () => {
    using dir = tempDir();
    const s = setup(dir.path, [...cps]);
    const text = await all(s, { text: "hit " });
    const regex = await all(s, { regex: { source: "^hit \\d+$", flags: "" } });
    s.regex.close();
    expect(text.found).toEqual(s.expected);
    expect(regex.found).toEqual(s.expected);
    // Several pages, each ending where the next begins, the last at the end of the log.
    expect(text.cursors.length).toBeGreaterThan(2);
    expect(text.cursors[text.cursors.length - 1]).toBe(s.total);
    expect(regex.cursors).toEqual(text.cursors);
  });
}
