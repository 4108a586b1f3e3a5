// The reader on real files: a log removed between choosing its tier and reading it is a retryable 503.
import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../../src/errors.ts";
import { openDb } from "../../src/jobs/db.ts";
import { createJobs } from "../../src/jobs/registry.ts";
import { createReader } from "../../src/logs/read.ts";
import { createLogStore } from "../../src/logs/store.ts";
import { tempDir } from "../support/server.ts";

describe("reader", () => {
  test("a local log removed after its tier was chosen answers 503 log_moved with Retry-After, not a 500", async () => {
    using dir = tempDir();
    const db = openDb(join(dir.path, "db"));
    const store = createLogStore({ dir: dir.path, maxOpenFiles: 4, fsync: false });
    const jobs = createJobs({ db, store, maxLineBytes: 1024 });
    jobs.push("j", "s", [{ stream: "stdout", line: "x" }], null);
    const reader = createReader({ store, getJob: jobs.get, checkpoint: jobs.checkpoint });
    const selection = reader.select("j", { from: 0, filter: {} })!;
    rmSync(join(dir.path, "j.jsonl")); // retention got there first
    const err = await selection.batches[Symbol.asyncIterator]()
      .next()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect([(err as AppError).status, (err as AppError).code, (err as AppError).headers]).toEqual([
      503,
      "log_moved",
      { "Retry-After": "1" },
    ]);
    db.close();
  });
});
