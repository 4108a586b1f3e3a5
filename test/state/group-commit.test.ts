// Group commit over real SQLite: what is refused is never committed, what is answered is.
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { groupCommit } from "../../src/state/sqlite/group-commit.ts";
import { tempDir } from "../support/server.ts";

function openDb(path: string, journal = "WAL") {
  const db = new Database(path);
  db.run(`PRAGMA journal_mode = ${journal}`);
  db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  return db;
}

const settle = (ps: Promise<unknown>[]) =>
  Promise.allSettled(ps).then((rs) => rs.map((r) => (r.status === "fulfilled" ? "ok" : "refused")));

test("a unit refused by a constraint is rolled back alone; the others of its group commit", async () => {
  using dir = tempDir();
  const db = openDb(join(dir.path, "g.db"));
  const insert = db.query("INSERT INTO t (id, v) VALUES (?, ?)");
  const g = groupCommit(db, (id: number) => insert.run(id, "x"));
  db.run("INSERT INTO t (id, v) VALUES (2, 'taken')");
  const answers = await settle([g.commit(1), g.commit(2), g.commit(3)]);
  const ids = db.query<{ id: number }, []>("SELECT id FROM t ORDER BY id").all();
  expect({ answers, ids: ids.map((r) => r.id) }).toEqual({
    answers: ["ok", "refused", "ok"],
    ids: [1, 2, 3],
  });
  db.close();
});

test("a unit whose failure makes SQLite roll back the whole transaction (a full database) refuses the whole group, and nothing of it is committed", async () => {
  using dir = tempDir();
  // max_page_count bounds the database file, which a WAL database only reaches at a checkpoint: with a
  // rollback journal the limit is hit inside the transaction, as a full disk is under WAL.
  const db = openDb(join(dir.path, "g.db"), "DELETE");
  const insert = db.query("INSERT INTO t (id, v) VALUES (?, ?)");
  const g = groupCommit(db, (a: { id: number; bytes: number }) => insert.run(a.id, Buffer.alloc(a.bytes, 1)));
  // The database may not grow past a few pages: the big unit fails with SQLITE_FULL, which ends the
  // transaction itself rather than only its savepoint.
  const pages = db.query<{ page_count: number }, []>("PRAGMA page_count").get()!.page_count;
  db.query(`PRAGMA max_page_count = ${pages + 4}`).get();
  const commits = [
    g.commit({ id: 1, bytes: 10 }),
    g.commit({ id: 2, bytes: 1024 * 1024 }),
    g.commit({ id: 3, bytes: 10 }),
  ];
  const answers = await settle(commits);
  // Each caller learns the real cause (a full disk is answered 507 disk_full, not a generic error).
  const causes = await Promise.all(commits.map((p) => p.catch((e: { code?: string }) => e.code)));
  const ids = db.query<{ id: number }, []>("SELECT id FROM t ORDER BY id").all();
  // Refused means not committed: a caller told "refused" cuts its bytes from the log, so a committed row for
  // it would count lines the file no longer has.
  expect({ answers, causes, ids: ids.map((r) => r.id) }).toEqual({
    answers: ["refused", "refused", "refused"],
    causes: ["SQLITE_FULL", "SQLITE_FULL", "SQLITE_FULL"],
    ids: [],
  });
  db.close();
});
