// The job lifecycle over HTTP: register, create, show, list, complete, heartbeat, health.
import { describe, expect, test } from "bun:test";
import { makeLines, startTestServer, type TestServer } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";

const put = (s: TestServer, id: string, body: unknown) =>
  s.fetch(`/api/jobs/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("jobs", () => {
  test("PUT registers a pending job, a second PUT updates it, GET shows it", async () => {
    await using s = await startTestServer();
    const created = await put(s, "j1", {
      workspace: "ws",
      task: "deploy/eu:prod",
      created_at: "2025-02-12T10:56:45Z",
    });
    expect(created.status).toBe(201);
    const updated = await put(s, "j1", { workspace: "ws2", task: "t" });
    expect(updated.status).toBe(200);
    const job = (await (await s.fetch("/api/jobs/j1")).json()) as Record<string, unknown>;
    expect({ ...job, updated_at: "-", last_activity_at: "-" } as Record<string, unknown>).toEqual({
      id: "j1",
      workspace: "ws2",
      task: "t",
      status: "pending",
      error: null,
      created_at: "2025-02-12T10:56:45.000Z",
      updated_at: "-",
      finished_at: null,
      last_activity_at: "-",
      lines: 0,
      bytes: 0,
      late_lines: 0,
      settled: false,
    });
  });

  test("POST /api/jobs creates a job with a new UUID", async () => {
    await using s = await startTestServer();
    const r = await s.post("/api/jobs", { workspace: "w", task: "t" });
    const job = (await r.json()) as { id: string; status: string };
    expect([r.status, job.status]).toEqual([201, "pending"]);
    expect(job.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test("a push to an unregistered job registers it under default/default and moves it to running", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/auto/logs", { step_name: "s", lines: makeLines(2) });
    const job = (await (await s.fetch("/api/jobs/auto")).json()) as Record<string, unknown>;
    expect([job.workspace, job.task, job.status, job.lines]).toEqual(["default", "default", "running", 2]);
    expect((await put(s, "auto", { workspace: "w", task: "t" })).status).toBe(200);
    const fixed = (await (await s.fetch("/api/jobs/auto")).json()) as Record<string, unknown>;
    expect([fixed.workspace, fixed.task, fixed.status, fixed.lines]).toEqual(["w", "t", "running", 2]);
  });

  test("complete is idempotent for the same status and a 409 for a different one", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1) });
    const first = (await (
      await s.post("/worker/jobs/j/complete", { status: "failed", error: "exit 2" })
    ).json()) as {
      changed: boolean;
      job: Record<string, unknown>;
    };
    expect([first.changed, first.job.status, first.job.error]).toEqual([true, "failed", "exit 2"]);
    expect(typeof first.job.finished_at).toBe("string");
    const again = (await (await s.post("/worker/jobs/j/complete", { status: "failed" })).json()) as {
      changed: boolean;
    };
    expect(again.changed).toBe(false);
    const other = await s.post("/worker/jobs/j/complete", { status: "completed" });
    expect([other.status, await other.json()]).toEqual([
      409,
      { error: "job j already ended as failed; cannot mark it completed", code: "already_finished" },
    ]);
  });

  test("reads of a settled job say complete once every line was returned", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(3) });
    await s.post("/worker/jobs/j/complete", { status: "completed" });
    await untilEvent(
      s.events,
      "settled",
      "the job to settle",
      async () => ((await (await s.fetch("/api/jobs/j")).json()) as { settled: boolean }).settled,
    );
    const whole = (await (await s.fetch("/api/jobs/j/logs")).json()) as { complete: boolean };
    const part = (await (await s.fetch("/api/jobs/j/logs?limit=1")).json()) as { complete: boolean };
    expect([whole.complete, part.complete]).toEqual([true, false]);
  });

  test("heartbeat touches a known job and is a 404 for an unknown one", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1) });
    expect((await s.post("/worker/jobs/j/heartbeat", {})).status).toBe(200);
    expect((await s.post("/worker/jobs/nope/heartbeat", {})).status).toBe(404);
  });

  test("the list is newest first and filters by status, workspace and task", async () => {
    await using s = await startTestServer();
    const days = ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"];
    for (const [i, day] of days.entries()) {
      await put(s, `j${i}`, { workspace: i % 2 ? "odd" : "even", task: "t", created_at: `${day}T00:00:00Z` });
    }
    await s.post("/worker/jobs/j1/complete", { status: "completed" });
    const ids = async (q: string) =>
      ((await (await s.fetch(`/api/jobs${q}`)).json()) as { jobs: Array<{ id: string }> }).jobs.map(
        (j) => j.id,
      );
    expect(await ids("")).toEqual(["j3", "j2", "j1", "j0"]);
    expect(await ids("?workspace=odd")).toEqual(["j3", "j1"]);
    expect(await ids("?status=completed")).toEqual(["j1"]);
    expect(await ids("?limit=2")).toEqual(["j3", "j2"]);
    expect(await ids("?task=none")).toEqual([]);
    expect((await s.fetch("/api/jobs?status=weird")).status).toBe(400);
  });

  test("healthz answers, and readyz checks the database and local_dir", async () => {
    await using s = await startTestServer();
    expect(await (await s.fetch("/healthz")).json()).toEqual({ status: "ok" });
    expect(await (await s.fetch("/readyz")).json()).toEqual({ status: "ready" });
  });
});
