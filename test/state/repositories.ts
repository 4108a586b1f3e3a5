// The repositories' contract, through the interfaces only: every backend runs this suite against itself.
import { describe, expect, test } from "bun:test";
import type { Job } from "../../src/core/job.ts";
import { type CapWindow, type Repositories, START, StateError } from "../../src/state/types.ts";

/** A fresh, empty state for each test, disposed after it. */
export type MakeRepositories = () => Promise<Repositories & AsyncDisposable>;

const T0 = Date.parse("2025-02-12T10:00:00.000Z");

const newJob = (id: string, over: Partial<Parameters<Repositories["jobs"]["create"]>[0]> = {}) => ({
  id,
  workspace: "ws",
  task: "build",
  created_at: T0,
  now: T0,
  line_count: 0,
  byte_count: 0,
  checkpoints: [],
  ...over,
});

const append = (id: string, first: number, offset: number, lines: number, bytes: number, now = T0 + 1) => ({
  id,
  first,
  offset,
  lines,
  bytes,
  late: 0,
  now,
  checkpointEvery: 1024,
});

const windowOf = (job_id: string, over: Partial<CapWindow> = {}): CapWindow => ({
  job_id,
  cur: 0,
  seg0_bytes: 0,
  seg0_lines: 0,
  seg1_bytes: 0,
  seg1_lines: 0,
  rel0: 0,
  rel1: 0,
  elided_lines: 0,
  elided_bytes: 0,
  event_done: 0,
  ...over,
});

export function describeRepositories(name: string, make: MakeRepositories): void {
  describe(`${name} repositories`, () => {
    test("a created job reads back whole, pending, with no checkpoint columns; an unknown id is null", async () => {
      await using s = await make();
      const created = await s.jobs.create(newJob("a"));
      const expected: Job = {
        id: "a",
        workspace: "ws",
        task: "build",
        status: "pending",
        created_at: T0,
        updated_at: T0,
        finished_at: null,
        last_activity_at: T0,
        error: null,
        line_count: 0,
        byte_count: 0,
        late_lines: 0,
        settled_at: null,
      };
      expect([created, await s.jobs.get("a"), await s.jobs.get("b")]).toEqual([expected, expected, null]);
    });

    test("an adopted job keeps its counts and its sparse index", async () => {
      await using s = await make();
      await s.jobs.create(
        newJob("a", {
          line_count: 3000,
          byte_count: 300_000,
          checkpoints: [
            [1024, 102_400],
            [2048, 204_800],
          ],
        }),
      );
      expect([
        (await s.jobs.get("a"))?.line_count,
        await s.lineIndex.at("a", 1000),
        await s.lineIndex.at("a", 1500),
        await s.lineIndex.at("a", 2999),
        await s.lineIndex.at("other", 5),
      ]).toEqual([
        3000,
        { line: 0, offset: 0 },
        { line: 1024, offset: 102_400 },
        { line: 2048, offset: 204_800 },
        { line: 0, offset: 0 },
      ]);
    });

    test("an append commits counters and activity, starts the job, and adds an index entry every checkpointEvery lines", async () => {
      await using s = await make();
      await s.jobs.create(newJob("a"));
      const first = await s.jobs.commitAppend({ ...append("a", 0, 0, 600, 6000), checkpointEvery: 1000 });
      await s.jobs.commitAppend({ ...append("a", 600, 6000, 600, 6000, T0 + 2), checkpointEvery: 1000 });
      // 1200 lines since the last entry (line 0): this run's start is indexed.
      const third = await s.jobs.commitAppend({
        ...append("a", 1200, 12_000, 10, 100, T0 + 3),
        late: 4,
        checkpointEvery: 1000,
      });
      expect({
        first: [first.status, first.line_count, first.byte_count, first.last_activity_at],
        third: [third.line_count, third.byte_count, third.late_lines, third.updated_at],
        index: [await s.lineIndex.at("a", 1199), await s.lineIndex.at("a", 1205)],
      }).toEqual({
        first: ["running", 600, 6000, T0 + 1],
        third: [1210, 12_100, 4, T0 + 3],
        index: [
          { line: 0, offset: 0 },
          { line: 1200, offset: 12_000 },
        ],
      });
    });

    test("a batch key commits with its append and answers a retry; a commit that fails changes nothing", async () => {
      await using s = await make();
      await s.jobs.create(newJob("a"));
      const answer = { first: 0, next: 5, truncated: 1, held: 0 };
      await s.jobs.commitAppend({ ...append("a", 0, 0, 5, 50), key: { key: "k", answer } });
      // The same key again cannot be recorded: the whole commit is refused, counters included.
      const again = s.jobs.commitAppend({ ...append("a", 5, 50, 5, 50), key: { key: "k", answer } }).then(
        () => "committed",
        (e) => (e instanceof StateError ? e.kind : "other error"),
      );
      expect([
        await s.idempotency.get("a", "k"),
        await s.idempotency.get("a", "other"),
        await again,
        (await s.jobs.get("a"))?.line_count,
      ]).toEqual([answer, null, "failed", 5]);
    });

    test("appends of several jobs asked for at once each commit; one refused changes nothing and refuses only its caller", async () => {
      await using s = await make();
      for (const id of ["a", "b", "c"]) await s.jobs.create(newJob(id));
      const answer = { first: 0, next: 5, truncated: 0, held: 0 };
      await s.jobs.commitAppend({ ...append("a", 0, 0, 5, 50), key: { key: "k", answer } });
      const outcome = (p: Promise<Job>) =>
        p.then(
          (j) => j.line_count,
          (e) => (e instanceof StateError ? e.kind : "other error"),
        );
      // Asked for in one tick, none awaited before the next is asked: a backend may commit them together.
      const all = await Promise.all([
        outcome(s.jobs.commitAppend({ ...append("b", 0, 0, 3, 30), key: { key: "k", answer } })),
        outcome(s.jobs.commitAppend({ ...append("a", 5, 50, 5, 50), key: { key: "k", answer } })),
        outcome(s.jobs.commitAppend({ ...append("c", 0, 0, 7, 70) })),
      ]);
      expect({
        all,
        counts: [
          (await s.jobs.get("a"))?.line_count,
          (await s.jobs.get("b"))?.line_count,
          (await s.jobs.get("c"))?.line_count,
        ],
        keys: [await s.idempotency.get("b", "k"), await s.idempotency.get("a", "k")],
      }).toEqual({ all: [3, "failed", 7], counts: [5, 3, 7], keys: [answer, answer] });
    });

    test("a window commits with the append that holds part of a batch, or alone with the batch key when held whole", async () => {
      await using s = await make();
      await s.jobs.create(newJob("a"));
      await s.jobs.create(newJob("b"));
      const wa = windowOf("a", { seg0_bytes: 100, seg0_lines: 2 });
      await s.jobs.commitAppend({ ...append("a", 0, 0, 1, 10), window: wa });
      const wb = windowOf("b", { seg1_bytes: 50, seg1_lines: 1, cur: 1 });
      const answer = { first: 0, next: 0, truncated: 0, held: 1 };
      await s.caps.hold({ window: wb, key: { key: "k", answer }, now: T0 + 9 });
      expect({
        windows: [await s.caps.get("a"), await s.caps.get("b"), await s.caps.get("c")],
        ids: (await s.caps.ids()).sort(),
        key: await s.idempotency.get("b", "k"),
        touched: (await s.jobs.get("b"))?.last_activity_at,
      }).toEqual({ windows: [wa, wb, null], ids: ["a", "b"], key: answer, touched: T0 + 9 });
      await s.caps.put({ ...wa, rel0: 100, event_done: 1 });
      await s.caps.drop("b");
      expect([await s.caps.get("a"), await s.caps.ids()]).toEqual([
        { ...wa, rel0: 100, event_done: 1 },
        ["a"],
      ]);
    });

    test("edit, touch, finish and settle change what they say; stale and unsettled find the right jobs", async () => {
      await using s = await make();
      for (const id of ["run", "quiet", "done", "settled"]) await s.jobs.create(newJob(id));
      for (const id of ["run", "quiet", "done", "settled"])
        await s.jobs.commitAppend(append(id, 0, 0, 1, 10));
      const edited = await s.jobs.edit("run", { workspace: "w2", task: "t2", created_at: T0 - 5 }, T0 + 2);
      await s.jobs.touch("run", T0 + 100);
      await s.jobs.finish("settled", "completed", null, T0 + 3);
      const done = await s.jobs.finish("done", "failed", "boom", T0 + 4);
      const settled = await s.jobs.settle("settled", T0 + 5);
      await s.jobs.create(newJob("new"));
      expect({
        edited: [edited.workspace, edited.task, edited.created_at, edited.updated_at],
        done: [done.status, done.error, done.finished_at],
        settled: [settled.status, settled.settled_at],
        stale: (await s.jobs.stale(T0 + 50)).map((j) => j.id).sort(),
        unsettled: (await s.jobs.unsettled()).map((j) => j.id),
        counts: await s.jobs.countByStatus(),
      }).toEqual({
        edited: ["w2", "t2", T0 - 5, T0 + 2],
        done: ["failed", "boom", T0 + 4],
        settled: ["completed", T0 + 5],
        stale: ["new", "quiet"],
        unsettled: ["done"],
        counts: { pending: 1, running: 2, completed: 1, failed: 1, cancelled: 0, skipped: 0 },
      });
    });

    test("the list is newest first, filtered by status, workspace and task, and pages by created_at", async () => {
      await using s = await make();
      await s.jobs.create(newJob("a", { created_at: T0 + 1 }));
      await s.jobs.create(newJob("b", { created_at: T0 + 2, workspace: "other" }));
      await s.jobs.create(newJob("c", { created_at: T0 + 3, task: "deploy" }));
      await s.jobs.create(newJob("d", { created_at: T0 + 3 }));
      await s.jobs.commitAppend(append("d", 0, 0, 1, 1));
      const ids = async (f: Parameters<Repositories["jobs"]["list"]>[0]) =>
        (await s.jobs.list(f)).map((j) => j.id);
      expect([
        await ids({ limit: 10 }),
        await ids({ limit: 2 }),
        await ids({ limit: 10, before: T0 + 3 }),
        await ids({ limit: 10, status: "running" }),
        await ids({ limit: 10, workspace: "ws", task: "build" }),
      ]).toEqual([["d", "c", "b", "a"], ["d", "c"], ["b", "a"], ["d"], ["d", "a"]]);
    });

    test("a page after a job starts exactly past it in the list's order, ties in created_at broken by id", async () => {
      await using s = await make();
      for (const [id, at] of [
        ["a", 1],
        ["b", 2],
        ["c", 2],
        ["d", 2],
        ["e", 3],
      ] as const)
        await s.jobs.create(newJob(id, { created_at: T0 + at }));
      const ids = async (f: Parameters<Repositories["jobs"]["list"]>[0]) =>
        (await s.jobs.list(f)).map((j) => j.id);
      expect([
        await ids({ limit: 10, after: { created_at: T0 + 2, id: "d" } }),
        await ids({ limit: 2, after: { created_at: T0 + 2, id: "c" } }),
        await ids({ limit: 10, after: { created_at: T0 + 3, id: "e" }, workspace: "ws" }),
        await ids({ limit: 10, after: { created_at: T0 + 1, id: "a" } }),
      ]).toEqual([["c", "b", "a"], ["b", "a"], ["d", "c", "b", "a"], []]);
    });

    test("the archive queue: enqueued once, attempts, failures with their backoff, verified uploads, local deletion", async () => {
      await using s = await make();
      for (const id of ["a", "b", "c"]) {
        await s.jobs.create(newJob(id));
        await s.jobs.commitAppend(append(id, 0, 0, 1, 10));
      }
      await s.archives.enqueue("a", "k/a", T0);
      await s.archives.enqueue("a", "k/other", T0 + 1);
      await s.archives.enqueue("b", "k/b", T0);
      const unclaimed = (await s.archives.get("a"))?.claimed_key;
      await s.archives.claim("a", "k/a2.claimed");
      await s.archives.begin("a", "k/a2");
      await s.archives.failed("a", "S3 down", T0 + 500);
      const failed = await s.archives.get("a");
      await s.archives.begin("a", "k/a2");
      await s.archives.uploaded("a", { complete: true, bytes: 7, sha256: "ff", log_bytes: 10, now: T0 + 9 });
      await s.archives.setLocalDeleted("a", true);
      expect({
        unclaimed,
        failed: [
          failed?.state,
          failed?.key,
          failed?.attempts,
          failed?.failures,
          failed?.last_error,
          failed?.next_attempt_at,
        ],
        uploaded: await s.archives.get("a"),
        none: await s.archives.get("c"),
        waiting: await s.archives.waiting(),
        counts: await s.archives.counts(),
        unfinished: (await s.archives.unfinished()).map((r) => r.job_id),
      }).toEqual({
        unclaimed: null,
        failed: ["retrying", "k/a2", 1, 1, "S3 down", T0 + 500],
        uploaded: {
          job_id: "a",
          key: "k/a2",
          state: "uploaded",
          attempts: 2,
          failures: 0,
          last_error: null,
          uploaded_at: T0 + 9,
          bytes: 7,
          sha256: "ff",
          log_bytes: 10,
          next_attempt_at: T0 + 9,
          local_deleted: 1,
          claimed_key: "k/a2.claimed",
        },
        none: null,
        waiting: 1,
        counts: { pending: 1, uploading: 0, retrying: 0, uploaded: 1 },
        unfinished: ["b"],
      });
      // Late lines after the upload: the archive has work again; an incomplete upload stays pending.
      await s.jobs.commitAppend(append("a", 1, 10, 1, 10));
      await s.archives.uploaded("b", { complete: false, bytes: 7, sha256: "ee", log_bytes: 5, now: T0 + 9 });
      await s.archives.setState("b", "uploading");
      expect([
        (await s.archives.unfinished()).map((r) => r.job_id).sort(),
        (await s.archives.get("b"))?.state,
      ]).toEqual([["a", "b"], "uploading"]);
    });

    test("settled jobs the archive queue never saw are found", async () => {
      await using s = await make();
      for (const id of ["queued", "lost", "running"]) await s.jobs.create(newJob(id));
      await s.jobs.finish("queued", "completed", null, T0);
      await s.jobs.settle("queued", T0 + 1);
      await s.jobs.finish("lost", "completed", null, T0);
      await s.jobs.settle("lost", T0 + 2);
      await s.archives.enqueue("queued", "k", T0);
      expect(await s.archives.missing()).toEqual(["lost"]);
    });

    test("retention pages old settled jobs by (finished_at, id), keeps unarchived files, and forgets a job whole", async () => {
      await using s = await make();
      const end = async (
        id: string,
        at: number,
        archive?: { log_bytes: number; local_deleted?: boolean },
      ) => {
        await s.jobs.create(newJob(id));
        await s.jobs.commitAppend(append(id, 0, 0, 1, 10));
        await s.jobs.finish(id, "completed", null, at);
        await s.jobs.settle(id, at);
        if (archive === undefined) return;
        await s.archives.enqueue(id, `k/${id}`, at);
        await s.archives.uploaded(id, {
          complete: true,
          bytes: 1,
          sha256: "0",
          log_bytes: archive.log_bytes,
          now: at,
        });
        if (archive.local_deleted) await s.archives.setLocalDeleted(id, true);
      };
      await end("a", T0 + 1, { log_bytes: 10 });
      await end("b", T0 + 1, { log_bytes: 10 });
      await end("c", T0 + 2, { log_bytes: 4 }); // archive older than the log
      await end("d", T0 + 3); // never archived
      await end("e", T0 + 4, { log_bytes: 10, local_deleted: true });
      await end("young", T0 + 100, { log_bytes: 10 });
      const ids = (page: { id: string }[]) => page.map((c) => c.id);
      const firstPage = await s.retention.localPage(T0 + 50, START, 1);
      expect({
        local: ids(await s.retention.localPage(T0 + 50, START, 10)),
        paged: [ids(firstPage), ids(await s.retention.localPage(T0 + 50, { at: T0 + 1, id: "a" }, 10))],
        held: await s.retention.held(T0 + 50),
        expireArchived: ids(await s.retention.expirePage(T0 + 50, START, 10, true)),
        expireAll: ids(await s.retention.expirePage(T0 + 50, START, 10, false)),
      }).toEqual({
        local: ["a", "b"],
        paged: [["a"], ["b"]],
        held: 2,
        expireArchived: ["a", "b", "c", "e"],
        expireAll: ["a", "b", "c", "d", "e"],
      });
      await s.jobs.commitAppend({
        ...append("a", 1, 10, 1, 10),
        key: { key: "k", answer: { first: 1, next: 2, truncated: 0, held: 0 } },
      });
      await s.retention.forget("a", T0 + 60);
      await s.retention.forget("d", T0 + 60);
      expect({
        job: await s.jobs.get("a"),
        archive: await s.archives.get("a"),
        key: await s.idempotency.get("a", "k"),
        objects: await s.retention.objectsPage("", 10),
        pending: await s.retention.pendingObjects(),
      }).toEqual({
        job: null,
        archive: null,
        key: null,
        objects: [{ key: "k/a", job_id: "a", queued_at: T0 + 60, attempts: 0, last_error: null }],
        pending: 1,
      });
    });

    test("queued objects page by key, count their failures, and a key a live job uses is known", async () => {
      await using s = await make();
      for (const id of ["x", "y", "z"]) {
        await s.jobs.create(newJob(id));
        await s.archives.enqueue(id, `k/${id}`, T0);
        await s.retention.forget(id, T0 + 1);
      }
      // Re-created under the same id, archived under the same key again.
      await s.jobs.create(newJob("y"));
      await s.archives.enqueue("y", "k/y", T0 + 2);
      await s.retention.objectFailed("k/x", "denied");
      await s.retention.dropObject("k/z");
      expect({
        page: (await s.retention.objectsPage("", 10)).map((o) => [o.key, o.attempts, o.last_error]),
        after: (await s.retention.objectsPage("k/x", 10)).map((o) => o.key),
        live: [await s.retention.keyLive("k/x"), await s.retention.keyLive("k/y")],
        pending: await s.retention.pendingObjects(),
      }).toEqual({
        page: [
          ["k/x", 1, "denied"],
          ["k/y", 0, null],
        ],
        after: ["k/y"],
        live: [false, true],
        pending: 2,
      });
    });

    test("a job's secrets row is replaced whole, forgotten keeps its count without the sealed bytes, drop deletes it", async () => {
      await using s = await make();
      const sealed = new Uint8Array([1, 2, 3, 250]);
      await s.secrets.put({ job_id: "b", count: 1, sealed: null, forgotten_at: null, updated_at: T0 });
      await s.secrets.put({ job_id: "a", count: 1, sealed, forgotten_at: null, updated_at: T0 });
      await s.secrets.put({ job_id: "a", count: 2, sealed, forgotten_at: null, updated_at: T0 + 1 });
      expect(await s.secrets.all()).toEqual([
        { job_id: "a", count: 2, sealed, forgotten_at: null, updated_at: T0 + 1 },
        { job_id: "b", count: 1, sealed: null, forgotten_at: null, updated_at: T0 },
      ]);
      await s.secrets.forget("a", T0 + 2);
      await s.secrets.drop("b");
      expect(await s.secrets.all()).toEqual([
        { job_id: "a", count: 2, sealed: null, forgotten_at: T0 + 2, updated_at: T0 + 2 },
      ]);
    });

    test("ping answers while the state is open", async () => {
      await using s = await make();
      expect(await s.ping()).toBeUndefined();
    });
  });
}
