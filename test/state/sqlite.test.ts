// The SQLite state: the repositories' contract, its pragmas, and migrations of databases made before versions.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openSqliteState } from "../../src/state/sqlite/open.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/state/sqlite/schema.ts";
import { tempDir } from "../support/server.ts";
import { describeRepositories } from "./repositories.ts";

/** A job row to create, with the counts of a log adopted at its creation. */
const newJob = (id: string, lines = 0, bytes = 0) => ({
  id,
  workspace: "w",
  task: "t",
  created_at: 0,
  now: 0,
  line_count: lines,
  byte_count: bytes,
  checkpoints: [] as [number, number][],
});

describeRepositories("SQLite", async () => {
  const dir = tempDir();
  const state = openSqliteState(join(dir.path, "state.db"));
  return Object.assign(state, {
    async [Symbol.asyncDispose]() {
      await state.close();
      dir[Symbol.dispose]();
    },
  });
});

describe("SQLite state", () => {
  test("is in WAL mode; fsync: true syncs every commit (synchronous FULL), the default only at checkpoints", async () => {
    using dir = tempDir();
    const plain = openSqliteState(join(dir.path, "a.db"));
    const synced = openSqliteState(join(dir.path, "b.db"), { fsync: true });
    expect([plain.pragma("journal_mode"), plain.pragma("synchronous"), synced.pragma("synchronous")]).toEqual(
      ["wal", 1, 2],
    );
    await plain.close();
    await synced.close();
  });

  test("an append is answered only once it is committed: another connection sees it by then", async () => {
    using dir = tempDir();
    const path = join(dir.path, "db");
    const state = openSqliteState(path);
    const other = new Database(path, { readonly: true, strict: true });
    const count = (id: string) =>
      other.query<{ line_count: number }, [string]>("SELECT line_count FROM jobs WHERE id = ?").get(id)
        ?.line_count;
    const job = (id: string) => ({
      id,
      workspace: "w",
      task: "t",
      created_at: 0,
      now: 0,
      line_count: 0,
      byte_count: 0,
      checkpoints: [],
    });
    await state.jobs.create(job("a"));
    await state.jobs.create(job("b"));
    const commit = (id: string) =>
      state.jobs.commitAppend({
        id,
        first: 0,
        offset: 0,
        lines: 4,
        bytes: 40,
        late: 0,
        now: 1,
        checkpointEvery: 1024,
      });
    const seen: Record<string, number | undefined> = {};
    await Promise.all(["a", "b"].map((id) => commit(id).then(() => (seen[id] = count(id)))));
    other.close();
    await state.close();
    expect(seen).toEqual({ a: 4, b: 4 });
  });

  test("appends still waiting for their group when the database closes are committed, not dropped", async () => {
    using dir = tempDir();
    const path = join(dir.path, "db");
    const state = openSqliteState(path);
    await state.jobs.create(newJob("a"));
    const pending = state.jobs.commitAppend({
      id: "a",
      first: 0,
      offset: 0,
      lines: 2,
      bytes: 20,
      late: 0,
      now: 1,
      checkpointEvery: 1024,
    });
    await state.close();
    const again = openSqliteState(path);
    expect([(await pending).line_count, (await again.jobs.get("a"))?.line_count]).toEqual([2, 2]);
    await again.close();
  });

  test("a new database is created at the latest schema version", async () => {
    using dir = tempDir();
    const state = openSqliteState(join(dir.path, "db"));
    await state.close();
    const raw = new Database(join(dir.path, "db"), { strict: true });
    const version = raw.query<{ user_version: number }, []>("PRAGMA user_version").get()!.user_version;
    raw.close();
    expect([state.schema, version]).toEqual([{ from: 0, to: SCHEMA_VERSION, created: true }, SCHEMA_VERSION]);
  });

  test("version 3: archive rows of a version-1 database that made attempts claim their own key; fresh rows claim none", async () => {
    using dir = tempDir();
    const path = join(dir.path, "db");
    const raw = new Database(path, { create: true, strict: true });
    raw.transaction(() => {
      MIGRATIONS[0]!.up(raw);
      raw.run("PRAGMA user_version = 1");
    })();
    raw.run("INSERT INTO archives (job_id, key, state, attempts) VALUES ('tried', 'k/tried', 'retrying', 2)");
    raw.run(
      "INSERT INTO archives (job_id, key, state, attempts) VALUES ('queued', 'k/queued', 'pending', 0)",
    );
    raw.close();
    const state = openSqliteState(path);
    const rows = [await state.archives.get("tried"), await state.archives.get("queued")];
    await state.close();
    expect({ schema: state.schema, claimed: rows.map((r) => r?.claimed_key) }).toEqual({
      schema: { from: 1, to: SCHEMA_VERSION, created: false },
      claimed: ["k/tried", null],
    });
  });

  test("version 4: jobs_status indexes the status alone, so an append (which sets last_activity_at) rewrites no index entry", async () => {
    using dir = tempDir();
    const path = join(dir.path, "db");
    const raw = new Database(path, { create: true, strict: true });
    raw.transaction(() => {
      for (const m of MIGRATIONS.filter((m) => m.version <= 3)) m.up(raw);
      raw.run("PRAGMA user_version = 3");
    })();
    raw.close();
    const state = openSqliteState(path);
    await state.jobs.create(newJob("j"));
    const append = {
      id: "j",
      first: 0,
      offset: 0,
      lines: 2,
      bytes: 20,
      late: 0,
      now: 5,
      checkpointEvery: 1024,
    };
    const first = await state.jobs.commitAppend(append);
    const second = await state.jobs.commitAppend({ ...append, first: 2, offset: 20, now: 9 });
    const stale = await state.jobs.stale(10);
    await state.close();
    const db = new Database(path, { strict: true });
    const columns = db
      .query<{ name: string }, []>("PRAGMA index_info(jobs_status)")
      .all()
      .map((c) => c.name);
    db.close();
    expect({
      schema: state.schema,
      columns,
      statuses: [first.status, second.status],
      activity: second.last_activity_at,
      stale: stale.map((j) => j.id),
    }).toEqual({
      schema: { from: 3, to: SCHEMA_VERSION, created: false },
      columns: ["status"],
      statuses: ["running", "running"],
      activity: 9,
      stale: ["j"],
    });
  });

  test("a batches table made by an older version (without held) gets the column, and its keys still answer", async () => {
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
    const state = openSqliteState(path);
    await state.jobs.create(newJob("j", 10, 100));
    await state.caps.hold({
      window: {
        job_id: "j",
        cur: 0,
        seg0_bytes: 5,
        seg0_lines: 5,
        seg1_bytes: 0,
        seg1_lines: 0,
        rel0: 0,
        rel1: 0,
        elided_lines: 0,
        elided_bytes: 0,
        event_done: 0,
      },
      key: { key: "k2", answer: { first: 10, next: 10, truncated: 0, held: 5 } },
      now: 1,
    });
    expect([await state.idempotency.get("j", "k"), await state.idempotency.get("j", "k2")]).toEqual([
      { first: 0, next: 10, truncated: 1, held: 0 },
      { first: 10, next: 10, truncated: 0, held: 5 },
    ]);
    await state.close();
  });
});
