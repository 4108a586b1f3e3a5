import { Database } from "bun:sqlite";
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

  test("a batches table made by an older version (without held) gets the column, and its keys still answer", () => {
    using dir = tempDir();
    const path = join(dir.path, "db");
    const raw = new Database(path, { create: true, strict: true });
    raw.run(`CREATE TABLE batches (
      job_id TEXT NOT NULL, key TEXT NOT NULL, first INTEGER NOT NULL, next INTEGER NOT NULL,
      truncated INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (job_id, key)
    ) WITHOUT ROWID`);
    raw.run("INSERT INTO batches (job_id, key, first, next, truncated) VALUES ('j', 'k', 0, 10, 1)");
    raw.close();
    const db = openDb(path);
    db.q.addBatch.run("j", "k2", 10, 10, 0, 5);
    expect([db.q.batch.get("j", "k"), db.q.batch.get("j", "k2")]).toEqual([
      { first: 0, next: 10, truncated: 1, held: 0 },
      { first: 10, next: 10, truncated: 0, held: 5 },
    ]);
    db.close();
  });
});
