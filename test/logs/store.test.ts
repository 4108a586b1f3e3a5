// The local store on real files: the LRU of append handles, positional writes, cutting a failed batch.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogStore } from "../../src/logs/store.ts";
import { tempDir } from "../support/server.ts";

const openFds = () => readdirSync("/proc/self/fd").length;
const bytes = (s: string) => new TextEncoder().encode(s);

describe("log store", () => {
  test("keeps at most max_open_files handles open, reopening a closed one at its recorded end", () => {
    using dir = tempDir();
    const store = createLogStore({ dir: dir.path, maxOpenFiles: 2, fsync: false });
    const before = openFds();
    const sizes = new Map<string, number>();
    for (let round = 0; round < 3; round++) {
      for (const id of ["a", "b", "c", "d", "e"]) {
        sizes.set(id, store.append(id, bytes(`${id}${round}\n`), sizes.get(id) ?? 0));
        expect(store.openHandles()).toBeLessThanOrEqual(2);
      }
    }
    expect(openFds() - before).toBe(2);
    for (const id of ["a", "b", "c", "d", "e"]) {
      expect(readFileSync(join(dir.path, `${id}.jsonl`), "utf8")).toBe(`${id}0\n${id}1\n${id}2\n`);
    }
    store.close("e");
    store.closeAll();
    expect([store.openHandles(), openFds() - before]).toEqual([0, 0]);
  });

  test("a write goes at the recorded end even when the file holds more; cut drops a failed batch", () => {
    using dir = tempDir();
    const discarded: number[] = [];
    const store = createLogStore({
      dir: dir.path,
      maxOpenFiles: 4,
      fsync: false,
      onDiscard: (_, n) => discarded.push(n),
    });
    const a = store.append("j", bytes("one\n"), 0);
    const b = store.append("j", bytes("two\n"), a);
    // The commit of "two" failed: the caller cuts it; the next batch lands where "two" was.
    store.cut("j", a, { code: "disk_full", message: "no space" });
    // This disk is not full: the readiness probe's own write succeeds and clears the failure.
    expect([store.health(), readdirSync(dir.path).includes(".readyz-probe")]).toEqual([null, false]);
    store.append("j", bytes("three\n"), a);
    expect([b, readFileSync(join(dir.path, "j.jsonl"), "utf8"), store.health(), discarded]).toEqual([
      8,
      "one\nthree\n",
      null,
      [],
    ]);
  });
});
