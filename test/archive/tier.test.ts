// The archive read tier over a real local-directory target: the index read once per upload, the fallbacks.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLocalTarget } from "../../src/archive/local.ts";
import { indexKeyOf, serializeIndex } from "../../src/archive/seek-index.ts";
import type { ArchiveTarget } from "../../src/archive/target.ts";
import { createArchiveTier } from "../../src/archive/tier.ts";
import type { Job } from "../../src/core/job.ts";
import type { Segment } from "../../src/logs/read.ts";
import type { ArchiveRow } from "../../src/state/types.ts";
import { archiveOf, jsonl } from "../support/member.ts";
import { tempDir } from "../support/server.ts";

const KEY = "ws/t/2025/02/12/2025-02-12T10-56-45_j.jsonl.gz";

/** A real local target whose reads are counted: which key, ranged or whole. */
function counted(root: string) {
  const target = createLocalTarget(root);
  const reads: string[] = [];
  const wrapped: ArchiveTarget = {
    ...target,
    get: (key, use) => {
      reads.push(`get ${key}`);
      return target.get(key, use);
    },
    getRange: (key, start, end, use) => {
      reads.push(`range ${key}`);
      return target.getRange(key, start, end, use);
    },
  };
  return { target: wrapped, reads };
}

async function text(segments: AsyncIterable<Segment>): Promise<string> {
  let out = "";
  for await (const seg of segments) for await (const c of seg.chunks) out += Buffer.from(c).toString();
  return out;
}

async function setup(withIndex: boolean) {
  const dir = tempDir();
  const lines = Array.from({ length: 3000 }, (_, i) =>
    jsonl(i < 1500 ? "a" : "b", `line ${i} ${"x".repeat(i % 50)}`, i),
  );
  const log = lines.join("");
  const path = join(dir.path, "j.jsonl");
  writeFileSync(path, log);
  const { gz, index } = await archiveOf(path, Buffer.byteLength(log), { blockBytes: 16 * 1024, workers: 0 });
  const root = join(dir.path, "archive");
  const { target, reads } = counted(root);
  await target.put(
    KEY,
    (async function* () {
      yield gz;
    })(),
    new AbortController().signal,
  );
  if (withIndex) {
    await target.put(
      indexKeyOf(KEY),
      (async function* () {
        yield new TextEncoder().encode(serializeIndex(index));
      })(),
      new AbortController().signal,
    );
  }
  const row: ArchiveRow = {
    job_id: "j",
    key: KEY,
    state: "uploaded",
    attempts: 1,
    failures: 0,
    last_error: null,
    uploaded_at: 1000,
    bytes: gz.length,
    sha256: "s",
    log_bytes: Buffer.byteLength(log),
    next_attempt_at: 0,
    local_deleted: 1,
    claimed_key: KEY,
  };
  const job = { id: "j", line_count: lines.length, byte_count: Buffer.byteLength(log) } as Job;
  const tier = createArchiveTier({ archives: { get: async () => row }, target });
  return { dir, lines, row, job, tier, reads, blocks: index.blocks.length };
}

describe("archive read tier", () => {
  test("the index is read once per upload; windows then fetch ranges only, and a re-upload reads its own index", async () => {
    const t = await setup(true);
    using _ = t.dir;
    const first = await t.tier.seek!(t.job);
    const a = await text(first.from(100, 5));
    const second = await t.tier.seek!(t.job);
    const b = await text(second.tail(2));
    const afterTwo = [...t.reads];
    t.row.uploaded_at = 2000;
    await text((await t.tier.seek!(t.job)).from(0, 1));
    expect({ a, b, afterTwo, reads: t.reads.slice(afterTwo.length), ranged: first.ranged }).toEqual({
      a: t.lines.slice(100, 105).join(""),
      b: t.lines.slice(-2).join(""),
      afterTwo: [`range ${KEY}.idx`, `range ${KEY}`, `range ${KEY}`],
      reads: [`range ${KEY}.idx`, `range ${KEY}`],
      ranged: true,
    });
  });

  test("an archive without an index reads whole, and its index is not asked for again for the same upload", async () => {
    const t = await setup(false);
    using _ = t.dir;
    const one = await t.tier.seek!(t.job);
    const a = await text(one.from(2990, 3));
    const b = await text((await t.tier.seek!(t.job)).step("b", 2998));
    expect({ a, b, reads: t.reads, ranged: one.ranged, fallback: one.fallback }).toEqual({
      a: t.lines.slice(2990, 2993).join(""),
      b: t.lines.slice(2998).join(""),
      reads: [`range ${KEY}.idx`, `get ${KEY}`, `get ${KEY}`],
      ranged: false,
      fallback: "the archive has no index",
    });
  });

  test("an index of another upload (other sizes) is not used: the read goes through the whole object", async () => {
    const t = await setup(true);
    using _ = t.dir;
    t.row.bytes += 1;
    const log = await t.tier.seek!(t.job);
    const a = await text(log.from(1499, 2));
    expect({ a, ranged: log.ranged, fallback: log.fallback }).toEqual({
      a: t.lines.slice(1499, 1501).join(""),
      ranged: false,
      fallback: `archive index describes a ${t.row.bytes - 1}-byte object, the archive is ${t.row.bytes} bytes`,
    });
  });

  test("no upload yet is a 502 naming the archive state", async () => {
    const t = await setup(true);
    using _ = t.dir;
    t.row.uploaded_at = null;
    t.row.state = "retrying";
    t.row.last_error = "cannot reach S3";
    await expect(t.tier.seek!(t.job)).rejects.toMatchObject({
      status: 502,
      code: "archive_unreadable",
      message:
        "archive of job j could not be read: the local log is missing and no archive was uploaded yet (archive retrying: cannot reach S3)",
    });
  });
});
