// What the SQLite repositories share: the window row's statement (it commits inside appends) and error mapping.
import type { Database } from "bun:sqlite";
import { type CapWindow, StateError } from "../types.ts";

/** SQLITE_FULL (no space for the database or its WAL) is the `full` kind; anything else `failed`. */
export function stateError(e: unknown): StateError {
  if (e instanceof StateError) return e;
  const code = (e as { code?: string }).code ?? "";
  return new StateError(code === "SQLITE_FULL" ? "full" : "failed", (e as Error).message, { cause: e });
}

export type Caps = ReturnType<typeof capStatements>;

export function capStatements(db: Database) {
  // Columns named: a table migrated by ALTER TABLE has them in another order than a new one.
  const put = db.query<null, CapWindow>(
    `INSERT OR REPLACE INTO job_caps (job_id, cur, seg0_bytes, seg0_lines, seg1_bytes, seg1_lines, rel0, rel1,
       elided_lines, elided_bytes, event_done)
     VALUES ($job_id, $cur, $seg0_bytes, $seg0_lines, $seg1_bytes, $seg1_lines, $rel0, $rel1, $elided_lines,
       $elided_bytes, $event_done)`,
  );
  return { put: (w: CapWindow) => put.run(w) };
}
