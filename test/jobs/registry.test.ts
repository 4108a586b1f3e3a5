// The registry on a real state and real files: one job's writes in turn, events only after commit, keys exact.
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { EventMap } from "../../src/events.ts";
import { WITHHELD_EVENT } from "../../src/jobs/registry.ts";
import { StateError } from "../../src/state/types.ts";
import { setupJobs } from "../support/jobs.ts";
import { tempDir } from "../support/server.ts";

const lines = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ stream: "stdout" as const, line: `${prefix}-${i}` }));

describe("registry", () => {
  test("pushes of one job at once are written one after another: contiguous runs, none at the same end", async () => {
    using dir = tempDir();
    await using t = await setupJobs(dir.path);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, b) => t.registry.push("j", "s", lines(5, `b${b}`), null)),
    );
    const runs = results.map((r) => [r.first, r.next]).sort((a, b) => a[0]! - b[0]!);
    const file = readFileSync(join(dir.path, "j.jsonl"), "utf8").trimEnd().split("\n");
    expect({
      runs,
      lines: file.length,
      // Each batch's lines sit together, in order, wherever its run landed.
      together: results.every((r, b) =>
        file.slice(r.first, r.next).every((l, i) => JSON.parse(l).line === `b${b}-${i}`),
      ),
      count: (await t.registry.get("j"))?.line_count,
    }).toEqual({
      runs: Array.from({ length: 20 }, (_, i) => [i * 5, i * 5 + 5]),
      lines: 100,
      together: true,
      count: 100,
    });
  });

  test("a job waiting for its turn holds no other job: another job's push completes meanwhile", async () => {
    using dir = tempDir();
    await using t = await setupJobs(dir.path);
    await t.registry.push("a", "s", lines(1, "a"), null);
    const release = Promise.withResolvers<void>();
    const held = t.registry.exclusive("a", () => release.promise);
    let aDone = false;
    const a = t.registry.push("a", "s", lines(1, "a2"), null).then((r) => {
      aDone = true;
      return r;
    });
    const b = await t.registry.push("b", "s", lines(3, "b"), null);
    const waiting = aDone;
    release.resolve();
    await held;
    expect([b.first, b.next, waiting, await a]).toEqual([
      0,
      3,
      false,
      { first: 1, next: 2, truncated: 0, duplicate: false },
    ]);
  });

  test("the same key pushed twice at once is written once; the other is answered duplicate with the same run", async () => {
    using dir = tempDir();
    await using t = await setupJobs(dir.path);
    const [x, y] = await Promise.all([
      t.registry.push("j", "s", lines(4, "x"), "k"),
      t.registry.push("j", "s", lines(4, "x"), "k"),
    ]);
    expect([x, y, (await t.registry.get("j"))?.line_count]).toEqual([
      { first: 0, next: 4, truncated: 0, duplicate: false },
      { first: 0, next: 4, truncated: 0, duplicate: true },
      4,
    ]);
  });

  test("appended comes after the commit, with the run's bytes and their text; a failed commit emits nothing and cuts the bytes", async () => {
    using dir = tempDir();
    await using t = await setupJobs(dir.path);
    const seen: Array<Promise<unknown>> = [];
    const outcomes: string[] = [];
    t.events.on("push", (e) => {
      outcomes.push(e.code === null ? e.outcome : `${e.outcome} ${e.code}`);
    });
    t.events.on("appended", (e: EventMap["appended"]) => {
      // What a listener reads is what was committed.
      seen.push(
        t.registry.get(e.job.id).then((j) => ({
          committed: j?.line_count,
          run: [e.first, e.next, e.offset],
          same: new TextDecoder().decode(e.bytes) === e.text,
        })),
      );
    });
    await t.registry.push("j", "s", lines(2, "ok"), null);
    const size = statSync(join(dir.path, "j.jsonl")).size;
    // The state refuses the next commit, as a full disk under the database would.
    const commit = t.state.jobs.commitAppend;
    t.state.jobs.commitAppend = async () => {
      t.state.jobs.commitAppend = commit;
      throw new StateError("full", "database or disk is full");
    };
    const refused = await t.registry.push("j", "s", lines(3, "lost"), null).catch((e) => [e.status, e.code]);
    const sizeAfter = statSync(join(dir.path, "j.jsonl")).size;
    const again = await t.registry.push("j", "s", lines(1, "again"), null);
    expect({
      refused,
      cut: sizeAfter === size,
      again: [again.first, again.next],
      seen: await Promise.all(seen),
      outcomes,
    }).toEqual({
      refused: [507, "disk_full"],
      cut: true,
      again: [2, 3],
      seen: [
        { committed: 2, run: [0, 2, 0], same: true },
        { committed: 3, run: [2, 3, size], same: true },
      ],
      outcomes: ["written", "refused disk_full", "written"],
    });
  });

  test("a server event is one line per line of its message, on step _server, and its key records it once", async () => {
    let now = Date.parse("2025-02-12T10:00:00.000Z");
    using dir = tempDir();
    await using t = await setupJobs(dir.path, { clock: () => now });
    const first = await t.registry.event("j", "one\ntwo", "e1");
    now += 1;
    const retry = await t.registry.event("j", "one\ntwo", "e1");
    const log = readFileSync(join(dir.path, "j.jsonl"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect([first, retry, log]).toEqual([
      { first: 0, next: 2 },
      { first: 0, next: 2, duplicate: true },
      [
        { ts: "2025-02-12T10:00:00.000Z", stream: "stderr", step: "_server", line: "one" },
        { ts: "2025-02-12T10:00:00.000Z", stream: "stderr", step: "_server", line: "two" },
      ],
    ]);
  });

  test("lines folded in from another copy are not stored when the job's secrets can no longer mask them; a note says how many", async () => {
    using dir = tempDir();
    const secret = "hunter2-s3cr3t-value";
    await using t = await setupJobs(dir.path, {
      masks: { push: () => null, event: () => "withheld" },
    });
    await t.registry.push("j", "s", lines(2, "ours"), null);
    const foreign = [
      JSON.stringify({
        ts: "2025-02-12T10:56:45.123Z",
        stream: "stderr",
        step: "_server",
        line: `token ${secret}`,
      }),
    ];
    await t.registry.fold("j", foreign, `[archive] 1 line of another copy is added`);
    const stored = readFileSync(join(dir.path, "j.jsonl"), "utf8");
    const texts = stored
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { line: string }).line);
    expect({ leaked: stored.includes(secret), texts }).toEqual({
      leaked: false,
      texts: [
        "ours-0",
        "ours-1",
        "[masking] 1 lines of another copy of this log were not added: this job's registered secrets are no longer available to mask them; that copy is kept as it is",
        WITHHELD_EVENT,
      ],
    });
  });
});
