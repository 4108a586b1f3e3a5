// A database made by an earlier version (commit 491aa0b, before schema versions) opens, migrates and serves its logs.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../../src/state/sqlite/schema.ts";
import { FIXTURE, makeDatabaseOf491aa0b } from "../fixtures/db-491aa0b.ts";
import { parseJsonl, startTestServer, tempDir } from "../support/server.ts";

describe("schema migration", () => {
  test("the state of a 491aa0b server is migrated to the current version and serves its jobs, logs and keys", async () => {
    using dir = tempDir();
    makeDatabaseOf491aa0b(dir.path);
    const logged: string[] = [];
    const log = { debug() {}, info: (m: string) => logged.push(m), warn() {}, error() {} };
    {
      await using server = await startTestServer(
        { log_storage: { archive: { type: "local", path: join(dir.path, "archive") } } },
        { dir: dir.path, log },
      );
      const job = (await (await server.fetch(`/api/jobs/${FIXTURE.done.id}`)).json()) as Record<
        string,
        unknown
      >;
      const logs = (await (await server.fetch(`/api/jobs/${FIXTURE.done.id}/logs`)).json()) as {
        logs: string;
      };
      // A read past the index entry at line 1024, by step: served from the old sparse index.
      const step = (await (
        await server.fetch(`/api/jobs/${FIXTURE.running.id}/steps/test/logs?from=1025`)
      ).json()) as { logs: string };
      const retry = await server.post(
        `/worker/jobs/${FIXTURE.running.id}/logs`,
        { step_name: "build", lines: [{ stream: "stdout", line: "again" }] },
        { "idempotency-key": "k1" },
      );
      const next = await server.post(`/worker/jobs/${FIXTURE.running.id}/logs`, {
        step_name: "build",
        lines: [{ stream: "stdout", line: "new" }],
      });
      expect({
        job: [job.status, job.lines, job.settled, (job.archive as { state: string }).state],
        logs: parseJsonl(logs.logs).map((l) => l.line),
        step: parseJsonl(step.logs).map((l) => l.line),
        retry: await retry.json(),
        next: await next.json(),
      }).toEqual({
        job: ["completed", FIXTURE.done.lines, true, "uploaded"],
        logs: ["old-0", "old-1", "old-2"],
        step: ["old-1025", "old-1027", "old-1029"],
        retry: { status: "ok", first: 0, next: 2, duplicate: true },
        next: { status: "ok", first: FIXTURE.running.lines, next: FIXTURE.running.lines + 1 },
      });
    }
    const raw = new Database(join(dir.path, "stroem-logs.db"), { strict: true });
    const version = raw.query<{ user_version: number }, []>("PRAGMA user_version").get()!.user_version;
    const columns = (table: string) =>
      raw
        .query<{ name: string }, []>(`PRAGMA table_info(${table})`)
        .all()
        .map((c) => c.name);
    expect([
      version,
      columns("batches").includes("held"),
      columns("archives").includes("sha256"),
      logged.filter((l) => l.startsWith("state: ")),
    ]).toEqual([
      SCHEMA_VERSION,
      true,
      true,
      [
        `state: database ${join(dir.path, "stroem-logs.db")} migrated from schema version 0 to ${SCHEMA_VERSION}`,
      ],
    ]);
    raw.close();
  });
});
