// Group commit: the commits asked for within one turn of the event loop share one SQLite transaction.
import type { Database } from "bun:sqlite";

/**
 * Wraps `commit` (the statements of one unit, run inside a transaction) so that the units asked for before the
 * next turn of the event loop run in one BEGIN … COMMIT, each inside its own savepoint: a unit that fails is
 * rolled back alone and only its caller is refused; the others commit — unless its failure ended the whole
 * transaction (a full disk), which refuses the whole group. Every promise settles after the COMMIT
 * (a failed COMMIT refuses them all), so a caller is answered only once its unit is durable as the database's
 * synchronous setting makes it — one WAL write (and with synchronous FULL one fsync) for the whole group instead
 * of one per unit. Concurrent requests on different jobs are what arrives in one turn; one job's commits are
 * sequential anyway (its turn waits for the answer).
 */
/** A unit's failure ended the group's transaction: every unit of the group is refused with `cause`. */
class GroupAborted extends Error {
  constructor(cause: unknown) {
    super("the group's transaction was rolled back by a unit's failure", { cause });
  }
}

export function groupCommit<A, R>(db: Database, commit: (arg: A) => R) {
  interface Waiting {
    arg: A;
    resolve: (r: R) => void;
    reject: (e: unknown) => void;
  }
  let queue: Waiting[] = [];
  let scheduled = false;
  // bun:sqlite runs a transaction function called inside another as a SAVEPOINT.
  const unit = db.transaction(commit);
  const group = db.transaction((units: Waiting[]) =>
    units.map((w) => {
      try {
        return { ok: true as const, value: unit(w.arg) };
      } catch (error) {
        // SQLITE_FULL, _IOERR, _NOMEM and the like can end the whole transaction, not only the unit's
        // savepoint: the units before are undone, and a unit run after would commit on its own while its
        // caller is refused (its bytes cut from the log, its counts in the database). Stop: the whole group
        // is refused with this unit's error.
        if (!db.inTransaction) throw new GroupAborted(error);
        return { ok: false as const, error };
      }
    }),
  );

  function flush(): void {
    scheduled = false;
    const units = queue;
    queue = [];
    if (units.length === 0) return;
    let results: ReturnType<typeof group>;
    try {
      results = units.length === 1 ? [run1(units[0]!)] : group(units);
    } catch (error) {
      const cause = error instanceof GroupAborted ? error.cause : error;
      for (const w of units) w.reject(cause);
      return;
    }
    results.forEach((r, i) => {
      if (r.ok) units[i]!.resolve(r.value);
      else units[i]!.reject(r.error);
    });
  }

  // A group of one is the unit's own transaction: no savepoint round.
  function run1(w: Waiting): { ok: true; value: R } | { ok: false; error: unknown } {
    try {
      return { ok: true, value: unit(w.arg) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  return {
    /** Runs `arg`'s unit in the next group; resolves once that group has committed. */
    commit(arg: A): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ arg, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /** Commits what waits now (before the database closes). */
    flush,
  };
}
