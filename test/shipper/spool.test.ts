import { describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openSpool, SpoolBusyError, spoolDirOf } from "../../src/shipper/spool.ts";
import { SLOT_BYTES } from "../../src/shipper/spool-state.ts";
import { tempDir } from "../support/server.ts";

const rec = (i: number) =>
  JSON.stringify({ ts: "2025-02-12T10:56:45.123Z", stream: "stdout", line: `l${i}` });
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const recs = (from: number, n: number) => Array.from({ length: n }, (_, i) => rec(from + i));

describe("spool", () => {
  test("batches are cut at record boundaries under the cap and the spool disappears once all is delivered", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const spool = openSpool({ dir, maxBytes: 1 << 20 });
    expect(spool.append(recs(0, 10))).toBe(10);
    const size = rec(0).length + 1;
    const first = spool.cut(size * 3 + 5)!;
    expect(first.range).toEqual({ seg: 1, start: 0, end: size * 3, lines: 3 });
    expect(text(first.bytes)).toBe(`${recs(0, 3).join("\n")}\n`);
    spool.begin(first.range, "k1");
    spool.settle();
    const rest = spool.cut(1 << 20)!;
    expect({ range: rest.range, unsent: spool.unsentLines }).toEqual({
      range: { seg: 1, start: size * 3, end: size * 10, lines: 7 },
      unsent: 7,
    });
    spool.begin(rest.range, "k2");
    spool.settle();
    expect(spool.cut(1 << 20)).toBeNull();
    spool.close();
    expect(existsSync(dir)).toBe(false);
  });

  test("a pending batch survives a restart with the same range, bytes and key; what follows it comes next", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const a = openSpool({ dir, maxBytes: 1 << 20 });
    a.append(recs(0, 5));
    const cut = a.cut(rec(0).length * 2 + 2)!;
    a.begin(cut.range, "key-1");
    a.append(recs(5, 2));
    a.close(); // what a crash leaves behind, lock aside (a dead pid is taken over, tested below)

    const b = openSpool({ dir, maxBytes: 1 << 20 });
    expect({ pending: b.pending, unsent: b.unsentLines }).toEqual({
      pending: { ...cut.range, key: "key-1" },
      unsent: 7,
    });
    expect(text(b.read(b.pending!))).toBe(text(cut.bytes));
    b.settle();
    expect(text(b.cut(1 << 20)!.bytes)).toBe(`${recs(2, 5).join("\n")}\n`);
    b.close();
  });

  test("a batch recorded with its syncs side by side survives a restart, also when lines are spooled while it is recorded", async () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const a = openSpool({ dir, maxBytes: 1 << 20 });
    a.append(recs(0, 3));
    const cut = a.cut(1 << 20)!;
    const recording = a.record(cut.range, "key-1");
    a.append(recs(3, 2)); // printed while the syncs run: not part of the batch
    expect(await recording).toEqual({ ...cut.range, key: "key-1" });
    a.close();

    const b = openSpool({ dir, maxBytes: 1 << 20 });
    expect({ pending: b.pending, unsent: b.unsentLines, bytes: text(b.read(b.pending!)) }).toEqual({
      pending: { ...cut.range, key: "key-1" },
      unsent: 5,
      bytes: `${recs(0, 3).join("\n")}\n`,
    });
    b.settle();
    expect(text(b.cut(1 << 20)!.bytes)).toBe(`${recs(3, 2).join("\n")}\n`);
    b.close();
  });

  test("a state write torn by a power loss falls back to the state before it (a batch not yet sent is cut again)", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const a = openSpool({ dir, maxBytes: 1 << 20 });
    a.append(recs(0, 4));
    const one = a.cut(rec(0).length * 2 + 2)!;
    a.begin(one.range, "key-1");
    a.settle();
    const two = a.cut(1 << 20)!;
    a.begin(two.range, "key-2");
    a.close();
    // Tear the newest slot (the one that names key-2) half way.
    const path = join(dir, "state");
    const bytes = readFileSync(path);
    const newest = bytes.indexOf("key-2") < SLOT_BYTES ? 0 : SLOT_BYTES;
    bytes.fill(0x20, newest + 100, newest + SLOT_BYTES);
    writeFileSync(path, bytes);
    const b = openSpool({ dir, maxBytes: 1 << 20 });
    expect({ pending: b.pending, next: b.cut(1 << 20)!.range }).toEqual({ pending: null, next: two.range });
    b.close();
  });

  test("a spool left by an older shipper (state.json) is resumed with its pending batch", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    mkdirSync(dir, { recursive: true });
    const size = rec(0).length + 1;
    writeFileSync(join(dir, "seg-000000000001"), `${recs(0, 3).join("\n")}\n`);
    const pending = { seg: 1, start: size, end: size * 2, lines: 1, key: "old-key" };
    writeFileSync(join(dir, "state.json"), JSON.stringify({ v: 1, seg: 1, off: size, pending, reported: 0 }));
    const spool = openSpool({ dir, maxBytes: 1 << 20 });
    expect({
      pending: spool.pending,
      unsent: spool.unsentLines,
      legacy: existsSync(join(dir, "state.json")),
    }).toEqual({
      pending,
      unsent: 2,
      legacy: false,
    });
    spool.close();
  });

  test("a record torn by a crash mid-write is cut off when the spool is reopened", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const a = openSpool({ dir, maxBytes: 1 << 20 });
    a.append(recs(0, 2));
    a.close();
    appendFileSync(join(dir, "seg-000000000001"), '{"ts":"2025-02-12T10:5');
    const b = openSpool({ dir, maxBytes: 1 << 20 });
    expect(b.unsentLines).toBe(2);
    expect(text(b.cut(1 << 20)!.bytes)).toBe(`${recs(0, 2).join("\n")}\n`);
    expect(b.append([rec(2)])).toBe(1);
    b.close();
  });

  test("a full spool keeps the oldest lines, counts the newer ones as dropped, and the count survives a restart", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const size = rec(0).length + 1;
    const a = openSpool({ dir, maxBytes: size * 3 + 1 });
    expect([a.append(recs(0, 2)), a.append(recs(2, 2)), a.append(recs(4, 1))]).toEqual([2, 1, 0]);
    expect({ dropped: a.dropped, reported: a.reported, unsent: a.unsentLines }).toEqual({
      dropped: 2,
      reported: 0,
      unsent: 3,
    });
    a.close();
    const b = openSpool({ dir, maxBytes: size * 3 + 1 });
    expect({ dropped: b.dropped, text: text(b.cut(1 << 20)!.bytes) }).toEqual({
      dropped: 2,
      text: `${recs(0, 3).join("\n")}\n`,
    });
    expect(b.beginReport()).toEqual({ from: 0, to: 2, causes: [] }); // counted by an earlier shipper
    b.settleReport();
    b.close();
    expect(openSpool({ dir, maxBytes: 100 }).reported).toBe(2);
  });

  test("a loss report is recorded before it is sent: reopened unanswered it comes back the same; a later loss is a report of its own", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const size = rec(0).length + 1;
    const a = openSpool({ dir, maxBytes: size * 2 });
    const id = a.id;
    a.append(recs(0, 5));
    expect(a.beginReport()).toEqual({ from: 0, to: 3, causes: ["spool-max"] });
    a.close(); // a crash before the server answered
    const b = openSpool({ dir, maxBytes: size * 2 });
    b.append(recs(5, 1)); // dropped too, after the report was made
    expect({ id: b.id, report: b.beginReport(), dropped: b.dropped }).toEqual({
      id,
      report: { from: 0, to: 3, causes: ["spool-max"] },
      dropped: 4,
    });
    b.settleReport();
    expect([b.beginReport(), b.reported]).toEqual([{ from: 3, to: 4, causes: ["spool-max"] }, 3]);
    b.settleReport();
    expect(b.beginReport()).toBeNull();
    b.close();
  });

  test("every spool has an id of its own, kept while it lives", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const a = openSpool({ dir, maxBytes: 1000 });
    const first = a.id;
    a.append([rec(0)]);
    a.close();
    const b = openSpool({ dir, maxBytes: 1000 });
    expect(b.id).toBe(first);
    const c = b.cut(1000)!;
    b.begin(c.range, "k");
    b.settle();
    b.close(); // empty: removed
    const d = openSpool({ dir, maxBytes: 1000 });
    expect(d.id).not.toBe(first);
    d.close();
  });

  test("segments rotate, a batch never spans two, and a delivered segment is deleted", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const size = rec(0).length + 1;
    const spool = openSpool({ dir, maxBytes: 1 << 20, segmentBytes: size * 2 });
    for (let i = 0; i < 5; i++) spool.append([rec(i)]);
    expect(
      readdirSync(dir)
        .filter((f) => f.startsWith("seg-"))
        .sort(),
    ).toEqual(["seg-000000000001", "seg-000000000002", "seg-000000000003"]);
    const got: string[] = [];
    for (let c = spool.cut(1 << 20); c !== null; c = spool.cut(1 << 20)) {
      got.push(`${c.range.seg}:${c.range.lines}`);
      spool.begin(c.range, `k${got.length}`);
      spool.settle();
    }
    expect(got).toEqual(["1:2", "2:2", "3:1"]);
    expect(readdirSync(dir).filter((f) => f.startsWith("seg-"))).toEqual(["seg-000000000003"]);
    spool.close();
  });

  test("an abandoned batch (413) is cut again smaller from the same position", () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const spool = openSpool({ dir, maxBytes: 1 << 20 });
    spool.append(recs(0, 4));
    const big = spool.cut(1 << 20)!;
    spool.begin(big.range, "big");
    spool.abandon();
    const small = spool.cut(rec(0).length * 2 + 2)!;
    expect(small.range).toEqual({ seg: 1, start: 0, end: (rec(0).length + 1) * 2, lines: 2 });
    spool.close();
  });

  test("a second shipper on the same spool is refused; the lock of a dead one is taken over", async () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const a = openSpool({ dir, maxBytes: 1000 });
    a.append([rec(0)]);
    expect(() => openSpool({ dir, maxBytes: 1000 })).toThrow(SpoolBusyError);
    a.close();
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    writeFileSync(join(dir, "lock"), `${dead.pid}\n`);
    const b = openSpool({ dir, maxBytes: 1000 });
    expect(b.unsentLines).toBe(1);
    b.close();
  });

  test("the lock of a crashed shipper is taken over even when its pid now belongs to a live, unrelated process", async () => {
    using tmp = tempDir();
    const dir = spoolDirOf(tmp.path, "job-1", "build");
    const a = openSpool({ dir, maxBytes: 1000 });
    a.append([rec(0)]);
    a.close();
    // What a `kill -9` leaves once the kernel gave the dead shipper's pid to another process.
    await using unrelated = spawnSleeper();
    writeFileSync(join(dir, "lock"), `${unrelated.pid}\n`);
    const b = openSpool({ dir, maxBytes: 1000 });
    expect(b.unsentLines).toBe(1);
    b.close();
  });
});

/** A live process that is not a shipper, killed on dispose. */
function spawnSleeper() {
  const proc = Bun.spawn(["sleep", "60"]);
  return {
    pid: proc.pid,
    async [Symbol.asyncDispose]() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}
