import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDb } from "../../src/jobs/db.ts";
import { tempDir } from "../support/server.ts";

describe("database", () => {
  test("is in WAL mode; fsync: true syncs every commit (synchronous FULL), the default only at checkpoints", () => {
    using dir = tempDir();
    const plain = openDb(join(dir.path, "a.db"));
    const synced = openDb(join(dir.path, "b.db"), { fsync: true });
    const pragma = (db: typeof plain, name: string) =>
      Object.values(db.sqlite.query(`PRAGMA ${name}`).get() as object)[0];
    expect([
      pragma(plain, "journal_mode"),
      pragma(plain, "synchronous"),
      pragma(synced, "synchronous"),
    ]).toEqual(["wal", 1, 2]);
    plain.close();
    synced.close();
  });
});
