// The server's own log from a real process: JSON lines, the access log (never a token), journald priorities.
import { describe, expect, test } from "bun:test";
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { createLogger } from "../../src/log.ts";
import { MAIN, spawnServer } from "../support/process.ts";
import { makeLines, startTestServer, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import { watch } from "../support/ws.ts";

const WORKER = "worker-secret-4f1c9b";
const READER = "reader-secret-77ad20";

describe("service log", () => {
  test("log.format json writes one object a line; the access log has method, route, status, bytes, duration, job — never a token", async () => {
    await using s = await spawnServer({
      log: { format: "json", access: true },
      auth: { worker_token: WORKER, read_tokens: [READER] },
    });
    const auth = { authorization: `Bearer ${WORKER}` };
    const push = await fetch(`${s.url}/worker/jobs/j1/logs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ step_name: "build", lines: makeLines(2) }),
    });
    const pushBytes = (await push.arrayBuffer()).byteLength;
    // The access log counts the bytes sent: gzipped, since Bun's fetch accepts gzip (take them undecoded).
    const read = await fetch(`${s.url}/api/jobs/j1/logs?format=ndjson`, {
      headers: auth,
      decompress: false,
    } as RequestInit);
    const readBytes = (await read.arrayBuffer()).byteLength;
    await fetch(`${s.url}/api/jobs/j1/logs`); // 401
    using viewer = watch(s.url, "j1", { token: READER });
    await viewer.waitLines(2);

    const entries = await waitFor("four access lines", () => {
      const all = s
        .stderr()
        .split("\n")
        .filter((l) => l.length > 0)
        .map(
          (l) =>
            JSON.parse(l) as { time: string; level: string; msg: string; fields?: Record<string, unknown> },
        );
      return all.filter((e) => e.msg === "access").length >= 4 ? all : false;
    });
    for (const e of entries) expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const access = entries
      .filter((e) => e.msg === "access")
      .map(
        (e): Record<string, unknown> => ({
          level: e.level,
          ...e.fields,
          duration_ms: typeof e.fields?.duration_ms,
        }),
      );
    expect(access).toEqual([
      {
        level: "info",
        method: "POST",
        route: "/worker/jobs/:id/logs",
        status: 200,
        bytes: pushBytes,
        duration_ms: "number",
        job: "j1",
        client: "127.0.0.1",
      },
      {
        level: "info",
        method: "GET",
        route: "/api/jobs/:id/logs",
        status: 200,
        bytes: readBytes,
        duration_ms: "number",
        job: "j1",
        client: "127.0.0.1",
      },
      {
        level: "info",
        method: "GET",
        route: "/api/jobs/:id/logs",
        status: 401,
        bytes: expect.any(Number),
        duration_ms: "number",
        job: "j1",
        client: "127.0.0.1",
      },
      {
        level: "info",
        method: "GET",
        route: "/api/jobs/:id/logs/stream",
        status: 101,
        bytes: 0,
        duration_ms: "number",
        job: "j1",
        client: "127.0.0.1",
      },
    ]);
    expect(readBytes).toBeGreaterThan(0);
    expect(s.stderr().includes(WORKER) || s.stderr().includes(READER) || s.stderr().includes("token=")).toBe(
      false,
    );
  });

  test("a streamed read the client abandons is logged when it ends, with the bytes sent and outcome=aborted", async () => {
    const lines: string[] = [];
    const log = createLogger({ settings: { access: true }, write: (l) => lines.push(l) });
    await using s = await startTestServer({}, { log });
    for (let i = 0; i < 10; i++) {
      await s.post("/worker/jobs/big/logs", { step_name: "s", lines: makeLines(5000, "x".repeat(200)) });
    }
    const abort = new AbortController();
    const r = await s.fetch("/api/jobs/big/logs?format=ndjson", { signal: abort.signal });
    const reader = r.body!.getReader();
    await reader.read();
    abort.abort();
    const line = await waitFor("the access line of the abandoned read", () =>
      lines.find((l) => l.includes("route=/api/jobs/:id/logs ")),
    );
    const bytes = Number(/ bytes=(\d+)/.exec(line)?.[1]);
    expect(line).toMatch(
      /^info: access method=GET route=\/api\/jobs\/:id\/logs status=200 bytes=\d+ duration_ms=[\d.]+ job=big client=127\.0\.0\.1 outcome=aborted$/,
    );
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(Bun.file(join(s.dir, "big.jsonl")).size);
  });

  test("without log.access no access line is written", async () => {
    await using s = await spawnServer({});
    await fetch(`${s.url}/healthz`);
    await s.stop();
    expect(s.stderr()).not.toContain("access");
  });

  test("log.level warn hides info lines", async () => {
    await using s = await spawnServer({ log: { level: "warn" } });
    expect(await s.stop()).toBe(0);
    // `info: SIGTERM: shutting down…` and `info: stopped` are written at info.
    expect(s.stderr()).toBe("");
  });

  test("under systemd (JOURNAL_STREAM names stderr) each line carries its journald priority", async () => {
    using dir = tempDir();
    const configPath = join(dir.path, "c.yaml");
    await Bun.write(
      configPath,
      stringify({ server: { listen: "127.0.0.1:0" }, log_storage: { local_dir: join(dir.path, "logs") } }),
    );
    const errPath = join(dir.path, "stderr");
    const fd = openSync(errPath, "w");
    const st = fstatSync(fd, { bigint: true });
    const proc = Bun.spawn([process.execPath, MAIN, "serve", "--config", configPath], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: fd,
      env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` },
    });
    closeSync(fd);
    try {
      const reader = proc.stdout.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toStartWith("listening on ");
      reader.releaseLock();
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      expect(readFileSync(errPath, "utf8")).toBe(
        "<6>info: SIGTERM: shutting down (finishing in-flight requests; send it again to exit at once)\n<6>info: stopped\n",
      );
    } finally {
      proc.kill("SIGKILL");
    }
  });

  test("JOURNAL_STREAM inherited by a process whose stderr goes elsewhere adds no prefix", async () => {
    await using s = await spawnServer({}, { env: { JOURNAL_STREAM: "8:12345" } });
    expect(await s.stop()).toBe(0);
    expect(s.stderr()).toStartWith("info: SIGTERM: shutting down");
  });
});
