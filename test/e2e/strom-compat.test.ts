// Strøm's own clients against stroem-logs, request for request (docs/strom-compat.md), and Strøm mode beside the
// stand-in of Strøm's job API.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Events } from "../../src/events.ts";
import { merge, startTestServer, tempDir } from "../support/server.ts";
import { type StromJob, startStrom } from "../support/strom.ts";
import {
  cliLogs,
  stromArchiveBytes,
  stromArchiveKey,
  stromArchiveRead,
  stromMerge,
  uiLiveHookV0_15_11,
  uiPane,
  uiStepLogs,
  type WorkerEntry,
  workerErrorEntry,
  workerPush,
  workerTimestamp,
} from "../support/strom-clients.ts";
import { waitFor } from "../support/wait.ts";

const T0 = Date.parse("2025-02-12T10:56:45.000Z");
/** Line i's time, rising, in whole milliseconds never ending in 000 (`.001Z`): a form stored unchanged today. */
const msTs = (i: number) =>
  workerTimestamp(new Date(T0 + Math.floor(i / 999) * 1000), ((i % 999) + 1) * 1_000_000);
const msEntries = (n: number, prefix = "line", stream: "stdout" | "stderr" = "stdout"): WorkerEntry[] =>
  Array.from({ length: n }, (_, i) => ({ timestamp: msTs(i), stream, line: `${prefix}-${i}` }));

/** What Strøm's append_log writes for a pushed entry (worker_api/jobs.rs:163-168, 889-905). */
const stored = (step: string, e: WorkerEntry) =>
  `${JSON.stringify({ ts: e.timestamp, stream: e.stream, step, line: e.line })}\n`;

async function waitArchived(s: { fetch(p: string): Promise<Response> }, id: string) {
  // Any state past the in-flight ones: a future "kept" or "merged" state must end the wait too.
  return waitFor(`job ${id}'s archive to settle`, async () => {
    const j = (await (await s.fetch(`/api/jobs/${id}`)).json()) as {
      archive: { state: string; key: string } | null;
    };
    const st = j.archive?.state;
    return st !== undefined && !["pending", "uploading", "retrying"].includes(st) ? j.archive! : undefined;
  });
}

describe("the Strøm stand-in answers as Strøm's handlers do", () => {
  test("GET /api/jobs/{id}: the detail body, 400 for a bad id, 404 for an unknown or ACL-denied job, 401 for each bad credential", async () => {
    await using strom = await startStrom({
      acl: { rules: [{ workspace: "infra", tasks: ["deploy/*"], action: "view", users: ["viewer@x"] }] },
    });
    const job = strom.addJob({ workspace: "infra", task_name: "deploy/eu", status: "running" });
    const viewer = strom.addUser({ email: "viewer@x" });
    const outsider = strom.addUser({ email: "outsider@x" });
    const get = async (path: string, auth?: string) => {
      const res = await fetch(`${strom.url}${path}`, auth ? { headers: { authorization: auth } } : {});
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const ok = await get(`/api/jobs/${job.job_id}`, `Bearer ${strom.jwt(viewer)}`);
    expect({
      status: ok.status,
      keys: Object.keys(ok.body),
      picked: {
        job_id: ok.body.job_id,
        workspace: ok.body.workspace,
        task_name: ok.body.task_name,
        status: ok.body.status,
      },
      created_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?\+00:00$/.test(
        String(ok.body.created_at),
      ),
    }).toEqual({
      status: 200,
      keys: [
        "job_id",
        "workspace",
        "task_name",
        "mode",
        "input",
        "raw_input",
        "output",
        "status",
        "source_type",
        "source_id",
        "source_job_id",
        "restart_from_step",
        "revision",
        "worker_id",
        "created_at",
        "started_at",
        "completed_at",
        "steps",
        "retry_of_job_id",
        "retry_job_id",
        "retry_attempt",
        "max_retries",
      ],
      picked: { job_id: job.job_id, workspace: "infra", task_name: "deploy/eu", status: "running" },
      created_at: true,
    });
    const key = strom.apiKey(viewer);
    const expiredKey = strom.apiKey(viewer, { expiresAt: new Date(Date.now() - 1000) });
    const goneKey = strom.apiKey(outsider);
    strom.removeUser(outsider.user_id);
    const unknown = crypto.randomUUID();
    const answers = await Promise.all([
      get(`/api/jobs/${job.job_id}`),
      get(`/api/jobs/${job.job_id}`, `bearer ${strom.jwt(viewer)}`),
      get(`/api/jobs/${job.job_id}`, `Bearer ${strom.jwt(viewer, { secret: "other" })}`),
      get(`/api/jobs/${job.job_id}`, `Bearer ${strom.jwt(viewer, { expiresInSec: -61 })}`),
      get(`/api/jobs/${job.job_id}`, `Bearer ${strom.jwt(viewer, { aud: "https://strom/mcp" })}`),
      get(`/api/jobs/${job.job_id}`, "Bearer strm_00000000000000000000000000000000"),
      get(`/api/jobs/${job.job_id}`, `Bearer ${expiredKey}`),
      get(`/api/jobs/${job.job_id}`, `Bearer ${goneKey}`),
      get(`/api/jobs/not-a-uuid`, `Bearer ${key}`),
      get(`/api/jobs/${unknown}`, `Bearer ${key}`),
      get(`/api/jobs/${job.job_id}`, `Bearer ${strom.jwt(strom.addUser({ email: "nobody@x" }))}`),
      get(`/api/jobs/${job.job_id}`, `Bearer ${key}`),
      get(`/api/jobs/${job.job_id}/steps/_server/logs`, `Bearer ${key}`),
    ]);
    expect(answers.map((a) => [a.status, a.body.error ?? a.body.status ?? a.body.logs])).toEqual([
      [401, "Authentication required"],
      [401, "Authentication required"],
      [401, "Invalid or expired token"],
      [401, "Invalid or expired token"],
      [401, "Invalid or expired token"],
      [401, "Invalid API key"],
      [401, "API key expired"],
      [401, "API key user not found"],
      [400, "Invalid job ID"],
      [404, "Job not found"],
      [404, "Job not found"],
      [200, "running"],
      [200, ""],
    ]);
  });

  test("its server events are written as Strøm's append_server_log writes them and read back per step", async () => {
    await using strom = await startStrom({ auth: false });
    const job = strom.addJob();
    const line = strom.serverEvent(job.job_id, "[hooks] Hook 'notify' failed: exit 1", new Date(T0));
    const res = (await (await fetch(`${strom.url}/api/jobs/${job.job_id}/steps/_server/logs`)).json()) as {
      logs: string;
    };
    expect({ line, logs: res.logs }).toEqual({
      line: '{"line":"[hooks] Hook \'notify\' failed: exit 1","step":"_server","stream":"stderr","ts":"2025-02-12T10:56:45+00:00"}',
      logs: `${line}\n`,
    });
  });
  test("down refuses connections and up serves the same jobs again on the same port", async () => {
    await using strom = await startStrom({ auth: false });
    const job = strom.addJob({ status: "running" });
    await strom.down();
    const refused = await fetch(`${strom.url}/api/jobs/${job.job_id}`).then(
      () => "answered",
      () => "refused",
    );
    await strom.up();
    const back = (await (await fetch(`${strom.url}/api/jobs/${job.job_id}`)).json()) as { status: string };
    expect({ refused, back: back.status }).toEqual({ refused: "refused", back: "running" });
  });
});

describe("Strøm's worker push", () => {
  test("the worker's exact request is accepted and its lines are stored as Strøm's append_log stores them", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    const build = msEntries(3, "compile");
    const stderr = msEntries(1, "warning", "stderr");
    const answers = [
      await workerPush(s.url, "any", id, "build", build),
      await workerPush(s.url, "any", id, "process[0]", stderr),
    ];
    const cli = await cliLogs(s.url, id);
    expect({ ok: answers.map((a) => a.ok), cli }).toEqual({
      ok: [true, true],
      cli: {
        stdout: [...build.map((e) => stored("build", e)), stored("process[0]", stderr[0]!)].join(""),
        stderr: "",
        exitCode: 0,
      },
    });
  });

  test("with Strøm's worker token configured as stroem-logs' worker_token, the worker's Bearer header is accepted and a wrong one refused", async () => {
    await using s = await startTestServer({ auth: { worker_token: "strom-worker-token" } });
    const id = crypto.randomUUID();
    const good = await workerPush(s.url, "strom-worker-token", id, "build", msEntries(1));
    const bad = await workerPush(s.url, "not-it", id, "build", msEntries(1));
    // Strøm answers a wrong worker token 401 (worker_api/mod.rs:55-57); both are a non-2xx to its worker.
    expect({ good: good.ok, bad: [bad.ok, bad.status] }).toEqual({ good: true, bad: [false, 403] });
  });

  test("a worker's nanosecond, microsecond and whole-second timestamps are stored as sent, and its +00:00 ones as Z with every digit", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    const at = new Date(T0 + 722);
    const entries: WorkerEntry[] = [
      { timestamp: workerTimestamp(at, 722_000_001), stream: "stdout", line: "ns" },
      { timestamp: workerTimestamp(at, 722_000_002), stream: "stdout", line: "ns, same millisecond" },
      { timestamp: workerTimestamp(at, 722_103_000), stream: "stdout", line: "µs" },
      { timestamp: workerTimestamp(new Date(T0), 0), stream: "stdout", line: "whole second" },
    ];
    await workerPush(s.url, "any", id, "build", entries);
    // push_error_log's line (poller.rs:18-27) is `to_rfc3339()`: `+00:00`, converted to Z keeping its digits.
    await workerPush(s.url, "any", id, "build", [workerErrorEntry("Runner panicked", at, 722_000_003)]);
    const ts = (await cliLogs(s.url, id)).stdout
      .trimEnd()
      .split("\n")
      .map((l) => (JSON.parse(l) as { ts: string }).ts);
    expect(ts).toEqual([
      "2025-02-12T10:56:45.722000001Z",
      "2025-02-12T10:56:45.722000002Z",
      "2025-02-12T10:56:45.722103Z",
      "2025-02-12T10:56:45Z",
      "2025-02-12T10:56:45.722000003Z",
    ]);
  });

  test("a 1.5 MiB line, which Strøm's 2 MiB push body lets through, is stored whole", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    const long = "é".repeat(768 * 1024); // 1.5 MiB of UTF-8
    const push = await workerPush(s.url, "any", id, "build", [
      { timestamp: msTs(0), stream: "stdout", line: long },
    ]);
    const line = (JSON.parse((await cliLogs(s.url, id)).stdout) as { line: string }).line;
    expect({ ok: push.ok, bytes: Buffer.byteLength(line), whole: line === long }).toEqual({
      ok: true,
      bytes: 1.5 * 1024 * 1024,
      whole: true,
    });
  });

  test("by default a line is whole up to 2 MiB, Strøm's body limit, and one byte more is cut with its marker", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    const max = "a".repeat(2 * 1024 * 1024);
    const push = await workerPush(s.url, "any", id, "build", [
      { timestamp: msTs(0), stream: "stdout", line: max },
      { timestamp: msTs(1), stream: "stdout", line: `${max}b` },
    ]);
    const [whole, cut] = (await cliLogs(s.url, id)).stdout
      .trimEnd()
      .split("\n")
      .map((l) => (JSON.parse(l) as { line: string }).line);
    expect({
      push: JSON.parse(push.body),
      whole: whole === max,
      cut: cut === `${max}…[truncated 1 bytes]` ? "2 MiB kept, marker" : cut?.slice(-40),
    }).toEqual({
      push: { status: "ok", first: 0, next: 2, truncated_lines: 1 },
      whole: true,
      cut: "2 MiB kept, marker",
    });
  });
});

describe("Strøm's CLI `stroem-api logs`", () => {
  test('a registered job with no lines yet prints nothing and exits 0, from a 200 {"logs": ""}', async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    await s.fetch(`/api/jobs/${id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        workspace: "infra",
        task: "deploy",
        created_at: "2025-02-12T10:56:45.123456+00:00",
      }),
    });
    const res = await s.fetch(`/api/jobs/${id}/logs`);
    expect({
      status: res.status,
      logs: ((await res.json()) as { logs: string }).logs,
      cli: await cliLogs(s.url, id),
    }).toEqual({
      status: 200,
      logs: "",
      cli: { stdout: "", stderr: "", exitCode: 0 },
    });
  });

  test("a malformed job id is a 400 the CLI reports with the server's message, exit 1", async () => {
    await using s = await startTestServer();
    const cli = await cliLogs(s.url, "-bad");
    expect({
      exitCode: cli.exitCode,
      stdout: cli.stdout,
      prefix: cli.stderr.startsWith("Error: Server returned 400 Bad Request: invalid job id"),
    }).toEqual({
      exitCode: 1,
      stdout: "",
      prefix: true,
    });
  });

  test('a Strøm job stroem-logs was never told about, with no line yet, prints nothing and exits 0 (Strøm answers 200 {"logs": ""} for a job it knows)', async () => {
    await using s = await startTestServer();
    expect(await cliLogs(s.url, crypto.randomUUID())).toEqual({ stdout: "", stderr: "", exitCode: 0 });
  });

  test("a 90,000-line, 20 MiB log is printed whole by the CLI, and the UI's step pane shows its last line", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    const pad = "x".repeat(150);
    const total = 90_000;
    // A chatty build: Strøm's worker pushes whatever a second buffered, here 3,000 lines (~700 KB) a POST.
    for (let first = 0; first < total; first += 3000) {
      const entries: WorkerEntry[] = Array.from({ length: 3000 }, (_, i) => ({
        timestamp: msTs(first + i),
        stream: "stdout",
        line: `line-${first + i} ${pad}`,
      }));
      const a = await workerPush(s.url, "any", id, "build", entries);
      if (!a.ok) throw new Error(`push at line ${first} answered ${a.status} ${a.body}`);
    }
    const size = readFileSync(join(s.dir, `${id}.jsonl`)).length;
    const cli = await cliLogs(s.url, id);
    const printed = cli.stdout.split("\n").filter((l) => l !== "");
    const pane = await uiPane(() => uiStepLogs(s.url, id, "build"));
    expect({
      over20MiB: size > 20 * 1024 * 1024,
      exitCode: cli.exitCode,
      printed: printed.length,
      last: (JSON.parse(printed.at(-1)!) as { line: string }).line,
      paneLines: pane.length,
      paneLast: pane.at(-1)?.line,
    }).toEqual({
      over20MiB: true,
      exitCode: 0,
      printed: total,
      last: `line-${total - 1} ${pad}`,
      paneLines: total,
      paneLast: `line-${total - 1} ${pad}`,
    });
  }, 120_000);
});

describe("Strøm's UI", () => {
  test("a step pane shows exactly its step's lines, the step name percent-encoded as getStepLogs sends it", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    for (const step of ["build", "process[0]", "deploy eu/west", "build-notify"]) {
      await workerPush(s.url, "any", id, step, msEntries(2, step));
    }
    const panes = await Promise.all(
      ["build", "process[0]", "deploy eu/west"].map((step) => uiPane(() => uiStepLogs(s.url, id, step))),
    );
    expect(panes.map((p) => p.map((l) => `${l.time} ${l.stream} ${l.line}`))).toEqual([
      ["10:56:45.001 stdout build-0", "10:56:45.002 stdout build-1"],
      ["10:56:45.001 stdout process[0]-0", "10:56:45.002 stdout process[0]-1"],
      ["10:56:45.001 stdout deploy eu/west-0", "10:56:45.002 stdout deploy eu/west-1"],
    ]);
  });

  test("the Server Events card shows the job's _server events and nothing else", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    await workerPush(s.url, "any", id, "build", msEntries(2));
    await s.post(`/api/jobs/${id}/events`, { message: "[retry] Task retry 1/3: new job x (in 5s)" });
    const pane = await uiPane(() => uiStepLogs(s.url, id, "_server"));
    expect(pane.map((l) => [l.stream, l.line])).toEqual([
      ["stderr", "[retry] Task retry 1/3: new job x (in 5s)"],
    ]);
  });

  test("the v0.15.11 live hook gets the REST log, then each new line once, with no gap or duplicate at the seam", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    const first = msEntries(3, "before");
    await workerPush(s.url, "any", id, "build", first);
    using hook = await uiLiveHookV0_15_11(s.url, id);
    await hook.opened;
    const later = msEntries(2, "after");
    await workerPush(s.url, "any", id, "build", later);
    await hook.waitLines(5);
    expect(hook.logs()).toBe([...first, ...later].map((e) => stored("build", e)).join(""));
  });

  test("with Strøm mode, a step pane, CLI or live-stream read with a Strøm JWT or strm_ key is answered as Strøm's ACL allows", async () => {
    await using strom = await startStrom({
      acl: { rules: [{ workspace: "infra", action: "view", users: ["viewer@x"] }] },
    });
    const admin = strom.addUser({ email: "svc@x", is_admin: true });
    const viewer = strom.addUser({ email: "viewer@x" });
    const outsider = strom.addUser({ email: "outsider@x" });
    const job = strom.addJob({ workspace: "infra", task_name: "deploy", status: "running" });
    await using s = await startTestServer({
      auth: { worker_token: "wt" },
      strom: { api_url: strom.url, token: strom.apiKey(admin) },
    });
    await workerPush(s.url, "wt", job.job_id, "build", msEntries(1));
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: { status: number }) => e.status,
      );
    expect(
      await Promise.all([
        status(uiStepLogs(s.url, job.job_id, "build", strom.jwt(viewer))),
        status(uiStepLogs(s.url, job.job_id, "build", strom.apiKey(viewer))),
        status(uiStepLogs(s.url, job.job_id, "build", strom.jwt(outsider))),
        status(uiStepLogs(s.url, job.job_id, "build", strom.jwt(viewer, { expiresInSec: -120 }))),
        cliLogs(s.url, job.job_id, strom.apiKey(viewer)).then((c) => (c.exitCode === 0 ? 200 : c.stderr)),
      ]),
    ).toEqual([200, 200, 404, 401, 200]);
    // The v0.15.11 live hook's `?token=` on the stream: the viewer's JWT opens it, the outsider's is Strøm's 404.
    using hook = await uiLiveHookV0_15_11(s.url, job.job_id, strom.jwt(viewer));
    await hook.opened;
    await workerPush(s.url, "wt", job.job_id, "build", msEntries(1, "live"));
    await hook.waitLines(2);
    const denied = await fetch(
      `${s.url}/api/jobs/${job.job_id}/logs/stream?skip_backfill=true&token=${encodeURIComponent(strom.jwt(outsider))}`,
    );
    expect({
      live: hook.logs().split("\n").length - 1,
      denied: [denied.status, await denied.json()],
    }).toEqual({
      live: 2,
      denied: [404, { error: "Job not found", code: "job_not_found" }],
    });
  });
  test("with Strøm mode and Strøm down, a read with a Strøm credential fails closed with a 503 to retry; stroem-logs' own token still reads", async () => {
    await using strom = await startStrom();
    const admin = strom.addUser({ email: "svc@x", is_admin: true });
    const viewer = strom.addUser({ email: "viewer@x" });
    const job = strom.addJob({ status: "running" });
    await using s = await startTestServer({
      auth: { worker_token: "wt" },
      strom: { api_url: strom.url, token: strom.apiKey(admin) },
    });
    await workerPush(s.url, "wt", job.job_id, "build", msEntries(1));
    const key = strom.apiKey(viewer);
    await strom.down();
    const res = await s.fetch(`/api/jobs/${job.job_id}/logs`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const own = await s.fetch(`/api/jobs/${job.job_id}/logs`, { headers: { authorization: "Bearer wt" } });
    expect({
      status: res.status,
      retry: res.headers.get("retry-after"),
      body: await res.json(),
      own: own.status,
    }).toEqual({
      status: 503,
      retry: "5",
      body: {
        error: expect.stringMatching(
          new RegExp(
            `^cannot ask Strøm whether this caller may read job ${job.job_id}: GET .* Strøm is unreachable`,
          ),
        ),
        code: "strom_unavailable",
      },
      own: 200,
    });
  });
});

describe("Strøm's archive reader", () => {
  test("a stroem-logs archive of a small log is one gzip member: Strøm's single-member reader gets every line", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
    });
    const id = crypto.randomUUID();
    await s.fetch(`/api/jobs/${id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        workspace: "infra",
        task: "deploy/eu",
        created_at: "2025-02-12T10:56:45.123456+00:00",
      }),
    });
    await workerPush(s.url, "any", id, "build", msEntries(100));
    await s.post(`/worker/jobs/${id}/complete`, { status: "completed" });
    const view = await waitArchived(s, id);
    const key = stromArchiveKey("", {
      job_id: id,
      workspace: "infra",
      task_name: "deploy/eu",
      created_at: "2025-02-12T10:56:45.123456+00:00",
    });
    const read = stromArchiveRead(readFileSync(join(archive.path, key)));
    expect({ key: view.key, read }).toEqual({
      key,
      read: readFileSync(join(s.dir, `${id}.jsonl`), "utf8"),
    });
  });

  test("Strøm's single-member reader gets every line of a stroem-logs archive over 4 MiB (one member)", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
    });
    const id = crypto.randomUUID();
    await s.fetch(`/api/jobs/${id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspace: "infra", task: "deploy", created_at: "2025-02-12T10:56:45Z" }),
    });
    const pad = "ø".repeat(100); // multi-byte characters: a member boundary may split one
    for (let first = 0; first < 30_000; first += 3000) {
      const entries = msEntries(3000, `l${first}`).map((e) => ({ ...e, line: `${e.line} ${pad}` }));
      await workerPush(s.url, "any", id, "build", entries);
    }
    await s.post(`/worker/jobs/${id}/complete`, { status: "completed" });
    const view = await waitArchived(s, id);
    const local = readFileSync(join(s.dir, `${id}.jsonl`), "utf8");
    let read = "";
    let error: string | null = null;
    try {
      read = stromArchiveRead(readFileSync(join(archive.path, view.key)));
    } catch (e) {
      error = (e as Error).message;
    }
    expect({
      over4MiB: Buffer.byteLength(local) > 4 * 1024 * 1024,
      error,
      lines: read.split("\n").length - 1,
      same: read === local,
    }).toEqual({ over4MiB: true, error: null, lines: 30_000, same: true });
  }, 60_000);

  test("an archive Strøm wrote at the job's key is kept byte for byte; its lines join the log, which is archived beside it", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
    });
    const job = {
      job_id: crypto.randomUUID(),
      workspace: "infra",
      task_name: "deploy",
      created_at: "2025-02-12T10:56:45.5+00:00",
    };
    // Strøm archived the job first: its `_server` events, in its own key order and `+00:00` timestamps, and a
    // worker line stroem-logs also has (the union takes it once).
    const pushed = msEntries(3);
    const stromLog =
      '{"line":"[approval] Step \'gate\' approved by a@x","step":"_server","stream":"stderr","ts":"2025-02-12T10:56:45.000500+00:00"}\n' +
      stored("build", pushed[1]!);
    const key = stromArchiveKey("", job);
    const path = join(archive.path, key);
    mkdirSync(dirname(path), { recursive: true });
    const foreign = stromArchiveBytes(stromLog);
    writeFileSync(path, foreign);
    await s.fetch(`/api/jobs/${job.job_id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspace: job.workspace, task: job.task_name, created_at: job.created_at }),
    });
    await workerPush(s.url, "any", job.job_id, "build", pushed);
    await s.post(`/worker/jobs/${job.job_id}/complete`, { status: "completed" });
    const view = await waitArchived(s, job.job_id);
    const read = (await cliLogs(s.url, job.job_id)).stdout;
    const lines = read.trimEnd().split("\n");
    const event = (JSON.parse(lines.at(-1)!) as { line: string }).line;
    expect({
      kept: Buffer.from(readFileSync(path)).equals(Buffer.from(foreign)),
      state: view.state,
      key: view.key,
      // Every line of both copies, each once: ours in order, then Strøm's line ours lacked, then the event.
      read: lines.slice(0, -1),
      event,
      archived: stromArchiveRead(readFileSync(join(archive.path, view.key))) === read,
    }).toEqual({
      kept: true,
      state: "uploaded",
      key: key.replace(/\.jsonl\.gz$/, ".stroem-logs.jsonl.gz"),
      read: [...pushed.map((e) => stored("build", e).trimEnd()), stromLog.split("\n")[0]!],
      event: `[archive] ${join(archive.path, key)} already holds an archive stroem-logs did not write (2 lines); it is kept as it is. 1 of its lines were not in this log and are added to it; this log is archived at ${join(archive.path, view.key)}`,
      archived: true,
    });
    // The union is the one Strøm's merge rule takes (exact lines, each once), whatever their order.
    expect([...lines].sort()).toEqual(stromMerge(read, stromLog).trimEnd().split("\n").sort());
  });
});

describe("a foreign archive's lines and the job's secrets", () => {
  test("a line of Strøm's archive holding a registered secret is stored masked; the archive Strøm wrote is kept as it is", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
    });
    const job = {
      job_id: crypto.randomUUID(),
      workspace: "infra",
      task_name: "deploy",
      created_at: "2025-02-12T10:56:45+00:00",
    };
    const secret = "hunter2-very-secret";
    const stromLog = `{"line":"[hooks] Hook 'notify' failed: token ${secret} refused","step":"_server","stream":"stderr","ts":"2025-02-12T10:56:46+00:00"}\n`;
    const path = join(archive.path, stromArchiveKey("", job));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, stromArchiveBytes(stromLog));
    await s.fetch(`/api/jobs/${job.job_id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        workspace: job.workspace,
        task: job.task_name,
        created_at: job.created_at,
        secrets: [secret],
      }),
    });
    await workerPush(s.url, "any", job.job_id, "build", msEntries(1));
    await s.post(`/worker/jobs/${job.job_id}/complete`, { status: "completed" });
    await waitArchived(s, job.job_id);
    const local = readFileSync(join(s.dir, `${job.job_id}.jsonl`), "utf8");
    expect({
      folded: local.includes("[hooks] Hook 'notify' failed: token *** refused"),
      leaked: local.includes(secret),
      kept: stromArchiveRead(readFileSync(path)) === stromLog,
    }).toEqual({ folded: true, leaked: false, kept: true });
  });
});

describe("a local_dir taken over from a Strøm server", () => {
  test("Strøm's own file — worker lines and its key-sorted _server lines — is served whole, per step and as events, and a push continues its numbering", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    const file = [
      '{"ts":"2025-02-12T10:56:45.722000001Z","stream":"stdout","step":"build","line":"compiling"}',
      '{"line":"[approval] Step \'gate\' approved by a@x","step":"_server","stream":"stderr","ts":"2025-02-12T10:56:46.000001+00:00"}',
      '{"ts":"2025-02-12T10:56:47.500Z","stream":"stderr","step":"build","line":"warning: ø"}',
      "",
    ].join("\n");
    writeFileSync(join(s.dir, `${id}.jsonl`), file);
    const before = await cliLogs(s.url, id);
    const build = await uiPane(() => uiStepLogs(s.url, id, "build"));
    const events = await uiPane(() => uiStepLogs(s.url, id, "_server"));
    const more = msEntries(1, "linking");
    const push = await workerPush(s.url, "any", id, "build", more);
    const after = await cliLogs(s.url, id);
    expect({
      before: before.stdout,
      build: build.map((l) => `${l.time} ${l.line}`),
      events: events.map((l) => `${l.time} ${l.line}`),
      first: (JSON.parse(push.body) as { first: number }).first,
      after: after.stdout,
    }).toEqual({
      before: file,
      build: ["10:56:45.722 compiling", "10:56:47.500 warning: ø"],
      events: ["10:56:46.000 [approval] Step 'gate' approved by a@x"],
      first: 3,
      after: file + stored("build", more[0]!),
    });
  });

  test("a legacy {job_id}.log of plain text is printed verbatim by the CLI", async () => {
    await using s = await startTestServer();
    const id = crypto.randomUUID();
    writeFileSync(join(s.dir, `${id}.log`), "old line one\nold line two\n");
    expect(await cliLogs(s.url, id)).toEqual({
      stdout: "old line one\nold line two\n",
      stderr: "",
      exitCode: 0,
    });
  });
});

// Strøm mode (issue 12, item 5): `strom: {api_url, token}` beside the stand-in of Strøm's job API.
describe("beside a running Strøm server (Strøm mode)", () => {
  async function stromModeServer(strom: { url: string }, token: string, archivePath: string, extra = {}) {
    return startTestServer(
      merge(
        {
          log_storage: { archive: { type: "local", path: archivePath } },
          strom: { api_url: strom.url, token, poll_interval: "50ms" },
        },
        extra,
      ),
    );
  }
  const view = async (s: { fetch(p: string): Promise<Response> }, id: string) =>
    (await (await s.fetch(`/api/jobs/${id}`)).json()) as {
      status: string;
      workspace: string;
      task: string;
      error: string | null;
    };
  const message = (l: string) => (JSON.parse(l) as { line: string }).line;
  /** Resolves once recovery has left the quiet job alone `n` times (each sweep past its stale_after). */
  const spared = (s: { events: Events }, id: string, n: number) => {
    const { promise, resolve } = Promise.withResolvers<void>();
    let seen = 0;
    const off = s.events.on("recovery.spared", ({ job }) => {
      if (job === id && ++seen >= n) resolve();
    });
    const deadline = setTimeout(() => resolve(), 30_000);
    return promise.finally(() => {
      off();
      clearTimeout(deadline);
      if (seen < n) throw new Error(`recovery spared job ${id} ${seen} times in 30 s, expected ${n}`);
    });
  };

  test("a job run only through Strøm lands at Strøm's key, ended with Strøm's status, with Strøm's _server events folded in once", async () => {
    await using strom = await startStrom();
    const svc = strom.addUser({ email: "svc@x", is_admin: true });
    const job: StromJob = strom.addJob({
      workspace: "infra",
      task_name: "deploy/eu",
      created_at: "2025-02-12T10:56:45.123456+00:00",
      status: "running",
    });
    using archive = tempDir();
    await using s = await stromModeServer(strom, strom.apiKey(svc), archive.path);
    const entries = msEntries(5);
    await workerPush(s.url, "any", job.job_id, "build", entries);
    // Learnt from Strøm after the first push, not at the job's end: the key's parts are Strøm's at once.
    await waitFor("the job's workspace from Strøm", async () =>
      (await view(s, job.job_id)).workspace === "infra" ? true : undefined,
    );
    const event = strom.serverEvent(job.job_id, "[hooks] Hook 'notify' failed: exit 1");
    strom.setStatus(job.job_id, "failed");
    const path = join(archive.path, stromArchiveKey("", job));
    await waitFor("the archive at Strøm's key", () => Bun.file(path).exists());
    const lines = stromArchiveRead(readFileSync(path)).trimEnd().split("\n");
    const after = await view(s, job.job_id);
    expect({
      status: after.status,
      error: after.error,
      identity: [after.workspace, after.task],
      worker: lines.filter((l) => l.includes('"step":"build"')).length,
      // Byte for byte as Strøm holds it (its key order, its +00:00), so an exact-line union takes it once.
      events: lines.filter((l) => l.includes('"step":"_server"')),
      ui: (await uiPane(() => uiStepLogs(s.url, job.job_id, "_server"))).map((l) => l.line),
    }).toEqual({
      status: "failed",
      error: "Strøm reports the job failed",
      identity: ["infra", "deploy/eu"],
      worker: 5,
      events: [event],
      ui: [message(event)],
    });
  });

  test("Strøm's _server events written after the job's end (a failed hook) are folded in and archived again", async () => {
    await using strom = await startStrom();
    const svc = strom.addUser({ email: "svc@x", is_admin: true });
    const job = strom.addJob({ status: "running" });
    using archive = tempDir();
    await using s = await stromModeServer(strom, strom.apiKey(svc), archive.path, {
      log_storage: { rearchive_delay: "50ms" },
    });
    await workerPush(s.url, "any", job.job_id, "build", msEntries(2));
    const first = strom.serverEvent(job.job_id, "[approval] Step 'gate' approved by a@x");
    strom.setStatus(job.job_id, "completed");
    const path = join(archive.path, stromArchiveKey("", job));
    await waitFor("the first archive", () => Bun.file(path).exists());
    const late = strom.serverEvent(job.job_id, "[hooks] Hook 'notify' failed: exit 1");
    const events = await waitFor("the late event in the archive", () => {
      const got = stromArchiveRead(readFileSync(path))
        .trimEnd()
        .split("\n")
        .filter((l) => l.includes('"step":"_server"'));
      return got.length === 2 ? got : undefined;
    });
    expect({ events, status: (await view(s, job.job_id)).status }).toEqual({
      events: [first, late],
      status: "completed",
    });
  });

  test("a quiet step is never failed by recovery while Strøm says the job runs; a job Strøm does not know still is", async () => {
    await using strom = await startStrom();
    const svc = strom.addUser({ email: "svc@x", is_admin: true });
    const job = strom.addJob({ status: "running" });
    using archive = tempDir();
    await using s = await stromModeServer(strom, strom.apiKey(svc), archive.path, {
      recovery: { stale_after: "200ms", sweep_interval: "20ms" },
      strom: { poll_interval: "1h" },
    });
    const own = crypto.randomUUID(); // pushed by stroem-logs' own shipper: Strøm answers 404
    await workerPush(s.url, "any", job.job_id, "build", msEntries(1));
    await workerPush(s.url, "any", own, "build", msEntries(1));
    await waitFor("recovery to fail the job Strøm does not know", async () =>
      (await view(s, own)).status === "failed" ? true : undefined,
    );
    // Three sweeps past stale_after, each asking Strøm about the quiet job first.
    await spared(s, job.job_id, 3);
    expect({
      status: (await view(s, job.job_id)).status,
      asked: strom.requests.filter((r) => r.path === `/api/jobs/${job.job_id}`).length >= 3,
    }).toEqual({ status: "running", asked: true });
  });

  test("ingest and reads go on while Strøm is down; the job is learnt and ended once Strøm is back", async () => {
    await using strom = await startStrom();
    const svc = strom.addUser({ email: "svc@x", is_admin: true });
    const token = strom.apiKey(svc);
    const job = strom.addJob({ workspace: "infra", task_name: "deploy", status: "running" });
    await strom.down();
    using archive = tempDir();
    await using s = await stromModeServer(strom, token, archive.path, {
      recovery: { stale_after: "200ms", sweep_interval: "20ms" },
    });
    const push = await workerPush(s.url, "any", job.job_id, "build", msEntries(2));
    const read = (await cliLogs(s.url, job.job_id)).stdout.split("\n").length - 1;
    // Recovery asks before failing: Strøm is down, so the quiet job is left alone, sweep after sweep.
    await spared(s, job.job_id, 3);
    const whileDown = (await view(s, job.job_id)).status;
    await strom.up();
    strom.setStatus(job.job_id, "completed");
    const path = join(archive.path, stromArchiveKey("", job));
    await waitFor("the archive at Strøm's key once Strøm is back", () => Bun.file(path).exists());
    expect({ ok: push.ok, read, whileDown, after: (await view(s, job.job_id)).status }).toEqual({
      ok: true,
      read: 2,
      whileDown: "running",
      after: "completed",
    });
  });
});
