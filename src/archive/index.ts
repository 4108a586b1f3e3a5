// The archive, wired: the target the config asks for, and one facade over queue, upload, restore, probe and guards.
import type { Config } from "../config/schema.ts";
import type { Job } from "../core/job.ts";
import { archiveKey } from "../core/key.ts";
import type { Events } from "../events.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import { isTerminal } from "../protocol/status.ts";
import type { ArchivesRepository } from "../state/types.ts";
import { createForeignCheck } from "./foreign.ts";
import { createGuards } from "./guards.ts";
import { createLocalTarget } from "./local.ts";
import { createProbe } from "./probe.ts";
import { createQueue } from "./queue.ts";
import { createRestorer } from "./restore.ts";
import { createS3Target } from "./s3.ts";
import type { ArchiveTarget } from "./target.ts";
import { createArchiveTier } from "./tier.ts";
import { createUpload } from "./upload.ts";
import { archiveView } from "./view.ts";

export function archiveFromConfig(
  ls: Config["log_storage"],
): { target: ArchiveTarget; prefix: string } | null {
  const a = ls.archive ?? (ls.s3 ? { type: "s3" as const, ...ls.s3 } : undefined);
  if (a === undefined) return null;
  if (a.type === "local") return { target: createLocalTarget(a.path), prefix: a.prefix };
  return {
    target: createS3Target({
      bucket: a.bucket,
      region: a.region,
      endpoint: a.endpoint,
      reads: ls.archive_reads,
    }),
    prefix: a.prefix,
  };
}

export interface ArchiveOptions {
  archives: ArchivesRepository;
  registry: Pick<Registry, "get" | "event" | "exclusive" | "fold" | "missing">;
  store: LogStore;
  events: Events;
  log: Logger;
  target: ArchiveTarget;
  prefix: string;
  retry: { initial: number; max: number };
  rearchiveDelay: number;
  deleteLocal: boolean;
  concurrency?: number;
  clock?: () => number;
}

export type Archive = ReturnType<typeof createArchive>;

/**
 * The durable queue → gzip → upload → verify content → (maybe) delete local; retried until it succeeds, across
 * restarts. Subscribes to `appended`: lines after an upload re-upload the same key, debounced.
 */
export function createArchive(opts: ArchiveOptions) {
  const { archives, target, events, log } = opts;
  const clock = opts.clock ?? Date.now;
  const probe = createProbe({ target, log, events, everyMs: opts.retry.max });
  const restorer = createRestorer({ archives, store: opts.store, target, log, events });
  let stopping = false;
  const queue = createQueue({
    concurrency: opts.concurrency ?? 4,
    attempt: createUpload({
      ...opts,
      probe,
      stopping: () => stopping,
      clock,
      keyFor: createForeignCheck(opts),
    }),
  });

  /** A settled job enters the queue; recorded before the first attempt, so a restart resumes it. */
  async function enqueue(job: Job): Promise<void> {
    const key = archiveKey(opts.prefix, job);
    await archives.enqueue(job.id, key, clock());
    events.emit("archive.queued", { job: job.id, key });
    queue.run(job.id);
  }

  /** Lines after an upload (a late line to an archived job): the same key is uploaded again, debounced. */
  async function rearchive(job: Job): Promise<void> {
    const row = await archives.get(job.id);
    if (row?.state !== "uploaded" || row.log_bytes >= job.byte_count) return;
    // pending/uploading/retrying: the next attempt takes the new lines anyway.
    await archives.setState(job.id, "pending");
    events.emit("archive.queued", { job: job.id, key: row.key });
    queue.schedule(job.id, opts.rearchiveDelay);
  }
  // Synchronous for a running job: the common append costs the listener one check.
  events.on("appended", ({ job }) => (isTerminal(job.status) ? rearchive(job) : undefined));

  return {
    target,
    tier: createArchiveTier({ archives, target }),
    guard: createGuards({ archives, target, restorer }),
    enqueue,
    /** The `archive` field of `GET /api/jobs/{id}`. */
    view: async (job: Job) => archiveView(await archives.get(job.id)),
    /** True while an upload or a restore of this job runs (retention leaves such a job for the next sweep). */
    busy: (id: string): boolean => queue.running(id) || restorer.running(id),
    /** The `archive` section of `GET /api/stats`. */
    async stats(): Promise<Record<string, unknown>> {
      return {
        target: target.where,
        queue: await archives.counts(),
        problem: probe.trouble,
        ...(target.readStats ? { reads: target.readStats() } : {}),
      };
    },
    /** For /readyz: null while the target answers. */
    async readyCheck(): Promise<string | null> {
      if (probe.trouble === null) return null;
      return `archive: ${probe.trouble} (${await archives.waiting()} archives waiting)`;
    },
    /** Start-up: resumes unfinished archives (at their backoff time) and enqueues settled jobs never queued. */
    async resume(): Promise<number> {
      const now = clock();
      const unfinished = await archives.unfinished();
      for (const row of unfinished)
        queue.schedule(row.job_id, row.state === "retrying" ? row.next_attempt_at - now : 0);
      const missing = await archives.missing();
      for (const id of missing) {
        const job = await opts.registry.get(id);
        if (job) await enqueue(job);
      }
      const n = unfinished.length + missing.length;
      if (n > 0) log.info(`archive: resuming ${n} pending archives to ${target.where}`);
      probe.start();
      return n;
    },
    /** Resolves once no upload or restore is running (tests, shutdown). */
    async idle(): Promise<void> {
      await Promise.all([queue.idle(), restorer.idle()]);
    },
    /** Shutdown: no new attempts; running uploads are aborted and stay queued for the next start. */
    async stop(): Promise<void> {
      stopping = true;
      probe.stop();
      await queue.stop();
      await restorer.idle();
    },
  };
}
