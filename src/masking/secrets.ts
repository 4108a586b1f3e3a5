// The registered secrets of jobs: validated, sealed into the state (or kept in memory), one masker per job.
import { createMasker, type Masker } from "../core/mask.ts";
import { secretProblem } from "../core/mask-forms.ts";
import { AppError, badRequest, conflict } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { SecretsRepository } from "../state/types.ts";
import type { Vault } from "./vault.ts";

/** Values one job may hold: its masker grows with them (~1.5 MiB for 100 tokens). */
export const MAX_SECRETS_PER_JOB = 1000;

type Entry =
  | { state: "ok"; values: string[]; masker: Masker }
  /** Kept in memory only and lost in a restart, or sealed under a key that no longer opens them. */
  | { state: "lost"; count: number; why: string }
  /** Deleted after the job ended: nothing more is accepted into its log. */
  | { state: "forgotten"; count: number };

export interface SecretsOptions {
  repo: SecretsRepository;
  /** Seals the values at rest; null: they are kept in memory only (a restart loses them). */
  vault: Vault | null;
  clock?: () => number;
  log?: Logger;
}

export type Secrets = Awaited<ReturnType<typeof createSecrets>>;

/**
 * Refuses a list of values before anything is written; messages name a value by its position, never by
 * its content (they are answered and may be logged).
 */
export function checkSecrets(values: readonly string[], field = "secrets"): void {
  values.forEach((v, i) => {
    const problem = secretProblem(v);
    if (problem !== null) throw badRequest(`${field}[${i}]: ${problem}`, "invalid_secret");
  });
}

export async function createSecrets(opts: SecretsOptions) {
  const { repo, vault } = opts;
  const clock = opts.clock ?? Date.now;
  const jobs = new Map<string, Entry>();

  for (const row of await repo.all()) {
    if (row.forgotten_at !== null) {
      jobs.set(row.job_id, { state: "forgotten", count: row.count });
    } else if (row.sealed === null) {
      jobs.set(row.job_id, {
        state: "lost",
        count: row.count,
        why: "were kept in memory only (masking.key_file is not set) and were lost when the server restarted",
      });
    } else if (vault === null) {
      jobs.set(row.job_id, {
        state: "lost",
        count: row.count,
        why: "are sealed under masking.key_file, which is no longer configured",
      });
    } else {
      try {
        const values = vault.open(row.job_id, row.sealed);
        jobs.set(row.job_id, { state: "ok", values, masker: createMasker(values) });
      } catch (e) {
        opts.log?.warn(
          `job ${row.job_id}: its ${row.count} registered secrets do not open with masking.key_file ` +
            `(${(e as Error).message}); its lines are refused until it ends`,
        );
        jobs.set(row.job_id, {
          state: "lost",
          count: row.count,
          why: "do not open with the key of masking.key_file (another key?)",
        });
      }
    }
  }

  /** Why job `id`'s lines cannot be masked, as the AppError a push is answered; null when they can. */
  function refusal(id: string, e: Entry): AppError | null {
    if (e.state === "lost") {
      return new AppError(
        503,
        "secrets_unavailable",
        `job ${id}: its ${e.count} registered secrets ${e.why}; its lines can no longer be masked, so they ` +
          "are refused rather than stored unmasked",
      );
    }
    if (e.state === "forgotten") {
      return conflict(
        `job ${id} ended and its ${e.count} registered secrets were deleted (masking.forget_after); a later ` +
          "line can no longer be masked, so it is refused",
        "secrets_forgotten",
      );
    }
    return null;
  }

  return {
    /** The masking of job `id`'s lines: null without secrets; throws when they cannot be applied. */
    push(id: string): ((text: string) => string) | null {
      const e = jobs.get(id);
      if (e === undefined) return null;
      const no = refusal(id, e);
      if (no !== null) throw no;
      return (e as Extract<Entry, { state: "ok" }>).masker.mask;
    },
    /** The masking of a server event: "withheld" when the job's secrets cannot be applied. */
    event(id: string): ((text: string) => string) | null | "withheld" {
      const e = jobs.get(id);
      if (e === undefined) return null;
      return e.state === "ok" ? e.masker.mask : "withheld";
    },
    /** Throws the refusal of job `id` when its secrets cannot be applied (before anything is written). */
    usable(id: string): void {
      const e = jobs.get(id);
      const no = e === undefined ? null : refusal(id, e);
      if (no !== null) throw no;
    },
    /**
     * Adds values (checked with checkSecrets first) to job `id`; run it in the job's turn, so every line
     * after it is masked. Returns how many were new and how many the job holds.
     */
    async add(id: string, values: readonly string[]): Promise<{ added: number; count: number }> {
      const e = jobs.get(id);
      const no = e === undefined ? null : refusal(id, e);
      if (no !== null) throw no;
      const have = e === undefined ? [] : (e as Extract<Entry, { state: "ok" }>).values;
      const seen = new Set(have);
      const fresh = [...new Set(values)].filter((v) => !seen.has(v));
      if (fresh.length === 0) return { added: 0, count: have.length };
      const all = [...have, ...fresh];
      if (all.length > MAX_SECRETS_PER_JOB) {
        throw badRequest(
          `job ${id} may hold at most ${MAX_SECRETS_PER_JOB} secrets (it has ${have.length}, ${fresh.length} new)`,
          "too_many_secrets",
        );
      }
      const masker = createMasker(all);
      await repo.put({
        job_id: id,
        count: all.length,
        sealed: vault === null ? null : vault.seal(id, all),
        forgotten_at: null,
        updated_at: clock(),
      });
      jobs.set(id, { state: "ok", values: all, masker });
      return { added: fresh.length, count: all.length };
    },
    /** Deletes job `id`'s values (it can no longer receive lines); later lines are refused. */
    async forget(id: string): Promise<void> {
      const e = jobs.get(id);
      if (e === undefined || e.state === "forgotten") return;
      await repo.forget(id, clock());
      jobs.set(id, { state: "forgotten", count: e.state === "ok" ? e.values.length : e.count });
    },
    /** The job is gone: its row too. */
    async drop(id: string): Promise<void> {
      if (!jobs.has(id)) return;
      await repo.drop(id);
      jobs.delete(id);
    },
    /** Jobs not forgotten yet (their values, or the record that they were lost, are deleted once they end). */
    kept: (): string[] => [...jobs].filter(([, e]) => e.state !== "forgotten").map(([id]) => id),
    /** How many values job `id` holds, and whether they can be applied (never the values). */
    status(id: string): { count: number; state: Entry["state"] } | null {
      const e = jobs.get(id);
      if (e === undefined) return null;
      return { count: e.state === "ok" ? e.values.length : e.count, state: e.state };
    },
  };
}
