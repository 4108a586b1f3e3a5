// The embedded state: one SQLite database (WAL) under local_dir, migrated on open, behind the repositories.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Repositories } from "../types.ts";
import { sqliteArchives } from "./archives.ts";
import { sqliteCaps } from "./caps.ts";
import { capStatements } from "./common.ts";
import { sqliteJobs } from "./jobs.ts";
import { sqliteRetention } from "./retention.ts";
import { migrate } from "./schema.ts";
import { sqliteSecrets } from "./secrets.ts";

export interface SqliteState extends Repositories {
  /** The schema version the database had when opened, has now, and whether it was created empty. */
  schema: { from: number; to: number; created: boolean };
  /** A setting of this connection (`journal_mode`, `synchronous`), for diagnostics and tests. */
  pragma(name: "journal_mode" | "synchronous"): unknown;
}

/**
 * `fsync`: every commit is synced too (synchronous = FULL), so the row — the commit point — survives a power
 * loss with the log bytes it covers. The repositories answer synchronously inside their promises: SQLite runs
 * in this process, each method's statements are one transaction, and nothing else writes the file.
 */
export function openSqliteState(path: string, opts: { fsync?: boolean } = {}): SqliteState {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  try {
    db.run("PRAGMA journal_mode = WAL");
    // NORMAL in WAL mode: a commit survives a crash of the process; fsync happens at checkpoints.
    db.run(`PRAGMA synchronous = ${opts.fsync ? "FULL" : "NORMAL"}`);
    db.run("PRAGMA busy_timeout = 5000");
    const schema = migrate(db);
    const caps = capStatements(db);
    const ping = db.query("SELECT 1");
    const { flush, ...jobs } = sqliteJobs(db, caps);
    return {
      schema,
      ...jobs,
      caps: sqliteCaps(db, caps),
      archives: sqliteArchives(db),
      retention: sqliteRetention(db),
      secrets: sqliteSecrets(db),
      pragma: (name) => Object.values(db.query(`PRAGMA ${name}`).get() as object)[0],
      async ping() {
        ping.get();
      },
      async close() {
        flush();
        db.close(false);
      },
    };
  } catch (e) {
    db.close(false);
    throw e;
  }
}
