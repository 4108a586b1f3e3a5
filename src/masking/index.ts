// Registering secrets for a job in its turn (with the server event that says so), and deleting them after it ends.
import type { Events } from "../events.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import { checkSecrets, type Secrets } from "./secrets.ts";

export interface MaskingOptions {
  secrets: Secrets;
  registry: Pick<Registry, "withJob" | "eventIn" | "exclusive" | "get">;
  events: Events;
  /** `masking.forget_after`: how long after a job settled its values are kept. */
  forgetAfter: number;
  clock?: () => number;
  log?: Logger;
}

export type Masking = ReturnType<typeof createMasking>;

export function createMasking(opts: MaskingOptions) {
  const { secrets, registry, events } = opts;
  const clock = opts.clock ?? Date.now;
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const off: Array<() => void> = [];
  let forgetting = Promise.resolve();

  /** Deletes job `id`'s values in its turn: a push already in its turn is masked, the next one refused. */
  function forget(id: string): Promise<void> {
    timers.delete(id);
    const p = registry
      .exclusive(id, () => secrets.forget(id))
      .then(() => events.emit("masking.forgotten", { job: id }))
      .catch((e) => opts.log?.error(`job ${id}: deleting its registered secrets failed`, e));
    forgetting = forgetting.then(() => p);
    return p;
  }

  function schedule(id: string, settledAt: number): void {
    if (timers.has(id)) return;
    const wait = Math.max(0, settledAt + opts.forgetAfter - clock());
    const t = setTimeout(() => void forget(id), wait);
    t.unref?.();
    timers.set(id, t);
  }

  return {
    /**
     * Adds `values` to job `id` (created if missing) in its turn: every line committed after this returns is
     * masked. Lines stored before stay as they are; a server event says how many (never which values).
     */
    register(id: string, values: readonly string[]): Promise<{ added: number; count: number }> {
      checkSecrets(values);
      return registry.withJob(id, async (job) => {
        const r = await secrets.add(id, values);
        if (r.added > 0) {
          const n = job.line_count;
          await registry.eventIn(
            job,
            `[masking] ${r.added} secret${r.added === 1 ? "" : "s"} registered (${r.count} in all); ` +
              `${n === 0 ? "no line was" : n === 1 ? "1 line was" : `${n} lines were`} stored before and ` +
              `${n === 1 ? "is" : "are"} not masked retroactively`,
            null,
          );
        }
        return r;
      });
    },
    /** Throws the refusal of job `id` when its secrets cannot be applied (a check before a change). */
    usable: (id: string): void => secrets.usable(id),
    status: secrets.status,
    /** Schedules the deletion of every kept job's values once it has settled, and of those settled already. */
    async start(): Promise<void> {
      off.push(
        events.on("settled", (e) => {
          const s = secrets.status(e.job.id);
          if (s !== null && s.state !== "forgotten") schedule(e.job.id, e.job.settled_at ?? clock());
        }),
        events.on("retention.deleted", async (e) => {
          if (e.kind !== "job") return;
          clearTimeout(timers.get(e.job));
          timers.delete(e.job);
          await secrets.drop(e.job);
        }),
      );
      for (const id of secrets.kept()) {
        const job = await registry.get(id);
        if (job === null) await secrets.drop(id);
        else if (job.settled_at !== null) schedule(id, job.settled_at);
      }
    },
    /** Cancels the timers (their values are deleted at the next start) and waits for deletions under way. */
    async stop(): Promise<void> {
      for (const off1 of off.splice(0)) off1();
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      await forgetting;
    },
  };
}
