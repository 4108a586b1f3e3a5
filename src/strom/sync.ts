// Strøm mode's job sync: what Strøm says of each job (its key's parts, its end, its own `_server` events) brought in.
import { AppError } from "../errors.ts";
import type { Events } from "../events.ts";
import type { Lifecycle } from "../jobs/lifecycle.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import { isTerminal, type TerminalStatus } from "../protocol/status.ts";
import type { JobsRepository } from "../state/types.ts";
import type { StromJobInfo } from "./body.ts";
import type { StromClient } from "./client.ts";

/** Who owns a job: Strøm (it knows the job), not Strøm (its 404), or unknown (Strøm could not be asked). */
export type Owner = "strom" | "not_strom" | "unknown";

export interface StromSyncOptions {
  client: Pick<StromClient, "getJob" | "serverEvents">;
  registry: Pick<Registry, "get" | "register" | "fold" | "missing">;
  lifecycle: Pick<Lifecycle, "complete">;
  jobs: Pick<JobsRepository, "stale">;
  events: Events;
  log: Logger;
  /** `strom.poll_interval`: how often every job not ended is asked about. */
  pollInterval: number;
  /** `strom.late_events`: how long after its end a job's `_server` events are still folded in. */
  lateEvents: number;
  /** Questions to Strøm at once in a poll. */
  concurrency?: number;
  clock?: () => number;
}

export type StromSync = ReturnType<typeof createStromSync>;

export function createStromSync(o: StromSyncOptions) {
  const clock = o.clock ?? Date.now;
  const concurrency = o.concurrency ?? 4;
  // Jobs Strøm answered 404 for: stroem-logs' own (its shipper's); never asked again in this process.
  const notStrom = new Set<string>();
  // Jobs whose workspace, task and created_at are Strøm's: a push need not trigger a question.
  const learned = new Set<string>();
  // Jobs Strøm ended: until when their `_server` events are still folded in, and the lines already taken.
  const late = new Map<string, { until: number; seen: Set<string> }>();
  const inFlight = new Map<string, Promise<Owner>>();
  let down: string | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let polling: Promise<void> | null = null;
  let unsubscribe: (() => void) | null = null;

  function failed(e: unknown): void {
    const message = (e as Error).message;
    // Once per outage: a poll every few seconds would fill the service log with the same line.
    if (down === null)
      o.log.warn(`strom: ${message}; jobs are learnt and ended once Strøm answers again (ingest goes on)`);
    down = message;
  }

  function answered(): void {
    if (down !== null) o.log.info("strom: Strøm answers again");
    down = null;
  }

  /** Workspace, task and created_at as Strøm has them, so the archive key is Strøm's own. */
  async function learn(id: string, info: StromJobInfo): Promise<void> {
    const job = await o.registry.get(id);
    if (!job) return;
    const created = info.createdAt.getTime();
    if (job.workspace !== info.workspace || job.task !== info.task || job.created_at !== created) {
      try {
        await o.registry.register(id, { workspace: info.workspace, task: info.task, created_at: created });
      } catch (e) {
        // Archived already (under the fields it had): the key stays, as for any archived job.
        if (!(e instanceof AppError && e.status === 409)) throw e;
        o.log.warn(`strom: job ${id}: ${e.message}; keeping its archive key`);
      }
    }
    learned.add(id);
  }

  /** Strøm's own `_server` lines of the job that its log lacks, added verbatim (an exact-line union). */
  async function foldEvents(id: string): Promise<void> {
    const theirs = await o.client.serverEvents(id);
    if (theirs === null || theirs.length === 0) return;
    const entry = late.get(id);
    let missing: string[];
    if (entry !== undefined && entry.seen.size > 0) {
      missing = [...new Set(theirs.filter((l) => !entry.seen.has(l)))];
    } else {
      const job = await o.registry.get(id);
      if (!job) return;
      missing = await o.registry.missing(job, theirs);
    }
    if (missing.length > 0) await o.registry.fold(id, missing, null);
    if (entry !== undefined) for (const l of theirs) entry.seen.add(l);
  }

  /** Strøm says the job ended: its events first (so hooks and the archive see them), then the end. */
  async function end(id: string, info: StromJobInfo): Promise<void> {
    const job = await o.registry.get(id);
    if (!job || isTerminal(job.status)) return;
    late.set(id, { until: clock() + o.lateEvents, seen: new Set() });
    await foldEvents(id);
    const status = info.status as TerminalStatus;
    try {
      await o.lifecycle.complete(
        id,
        status,
        status === "completed" ? null : `Strøm reports the job ${info.stromStatus}`,
      );
    } catch (e) {
      // Ended here already with another status (stroem-logs' own complete): said, not fought over.
      if (!(e instanceof AppError && e.status === 409)) throw e;
      o.log.warn(`strom: job ${id}: Strøm says ${info.stromStatus}, but ${e.message}`);
    }
  }

  /** Asks Strøm about one job and acts on the answer; concurrent questions about a job share one. */
  function check(id: string): Promise<Owner> {
    if (notStrom.has(id)) return Promise.resolve("not_strom");
    const pending = inFlight.get(id);
    if (pending !== undefined) return pending;
    const p = (async (): Promise<Owner> => {
      let info: StromJobInfo | null;
      try {
        info = await o.client.getJob(id);
      } catch (e) {
        failed(e);
        return "unknown";
      }
      answered();
      if (info === null) {
        notStrom.add(id);
        return "not_strom";
      }
      try {
        await learn(id, info);
        if (info.terminal) await end(id, info);
      } catch (e) {
        // Strøm answered; the failure is ours (a disk, a question about its events): asked again next poll.
        o.log.warn(`strom: job ${id}: ${(e as Error).message}`);
      }
      return "strom";
    })().finally(() => inFlight.delete(id));
    inFlight.set(id, p);
    return p;
  }

  /** Every job not ended, then the late events of jobs that ended lately; a few questions at a time. */
  async function poll(): Promise<void> {
    const now = clock();
    const open = (await o.jobs.stale(now + 1)).map((j) => j.id).filter((id) => !notStrom.has(id));
    const queue = [...open];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) await check(id);
      }),
    );
    for (const [id, entry] of late) {
      if (entry.until <= now) {
        late.delete(id);
        continue;
      }
      if (down !== null) continue;
      try {
        await foldEvents(id);
      } catch (e) {
        failed(e);
      }
    }
  }

  return {
    check,
    /**
     * Recovery's question before it fails a quiet job: true leaves it alone. Strøm knows the job (running, or
     * ended — then `check` has ended it already) or cannot be asked: a job whose end only Strøm knows is never
     * failed by silence. Only a job Strøm does not know is left to recovery.
     */
    spare: async (id: string): Promise<boolean> => (await check(id)) !== "not_strom",
    /** Runs one poll now (tests, and the timer). A poll still running is joined. */
    poll(): Promise<void> {
      polling ??= poll()
        .catch((e) => o.log.warn(`strom: poll failed: ${(e as Error).message}`))
        .finally(() => {
          polling = null;
        });
      return polling;
    },
    start(): void {
      // A job's first lines: learn it at once, not at the next poll (ingest does not wait for the answer).
      unsubscribe ??= o.events.on("appended", ({ job }) => {
        if (learned.has(job.id) || notStrom.has(job.id) || down !== null) return;
        if (isTerminal(job.status)) return;
        void check(job.id);
      });
      timer ??= setInterval(() => void this.poll(), o.pollInterval);
    },
    async stop(): Promise<void> {
      unsubscribe?.();
      unsubscribe = null;
      if (timer !== null) clearInterval(timer);
      timer = null;
      await polling;
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
