// Auth on the real server: 401 without a token, 403 with a wrong one, on every route; secure defaults.
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN } from "../support/process.ts";
import { makeLines, startTestServer, tempDir } from "../support/server.ts";

const WORKER = "worker-token-0123456789";
const READER = "read-token-abcdef";
const body = JSON.stringify({ step_name: "s", lines: makeLines(1) });

const routes: Array<[string, string, "read" | "write", string | undefined]> = [
  ["GET", "/api/jobs", "read", undefined],
  ["GET", "/api/stats", "read", undefined],
  ["GET", "/api/jobs/j", "read", undefined],
  ["GET", "/api/jobs/j/logs", "read", undefined],
  ["GET", "/api/jobs/j/steps/s/logs", "read", undefined],
  ["PUT", "/api/jobs/j", "write", JSON.stringify({ workspace: "w", task: "t" })],
  ["POST", "/api/jobs", "write", JSON.stringify({ workspace: "w", task: "t" })],
  ["POST", "/api/jobs/j/events", "write", JSON.stringify({ message: "m" })],
  ["POST", "/worker/jobs/j/logs", "write", body],
  ["POST", "/worker/jobs/j/heartbeat", "write", "{}"],
  ["POST", "/worker/jobs/j/complete", "write", JSON.stringify({ status: "completed" })],
];

describe("auth", () => {
  test("every route answers 401 without a token and 403 with a wrong one, writing nothing", async () => {
    await using s = await startTestServer({ auth: { worker_token: WORKER, read_tokens: [READER] } });
    for (const [method, path, access, payload] of routes) {
      const init = { method, ...(payload === undefined ? {} : { body: payload }) };
      const none = await s.fetch(path, init);
      expect([method, path, none.status, none.headers.get("www-authenticate"), await none.json()]).toEqual([
        method,
        path,
        401,
        'Bearer realm="stroem-logs"',
        { error: `a ${access} token is required: send Authorization: Bearer <token>`, code: "unauthorized" },
      ]);
      const wrong = await s.fetch(path, { ...init, headers: { authorization: "Bearer nope" } });
      expect([method, path, wrong.status, await wrong.json()]).toEqual([
        method,
        path,
        403,
        { error: `the token presented is not valid for ${access}`, code: "forbidden" },
      ]);
    }
    const list = await s.fetch("/api/jobs", { headers: { authorization: `Bearer ${WORKER}` } });
    expect(await list.json()).toEqual({ jobs: [], next_cursor: null });
  });

  test("a read token reads but cannot write; the worker token does both", async () => {
    await using s = await startTestServer({ auth: { worker_token: WORKER, read_tokens: [READER] } });
    const asReader = await s.post("/worker/jobs/j/logs", body, { authorization: `Bearer ${READER}` });
    expect(asReader.status).toBe(403);
    const asWorker = await s.post("/worker/jobs/j/logs", body, { authorization: `Bearer ${WORKER}` });
    expect(asWorker.status).toBe(200);
    for (const token of [READER, WORKER]) {
      const r = await s.fetch("/api/jobs/j/logs", { headers: { authorization: `Bearer ${token}` } });
      expect([r.status, ((await r.json()) as { next: number }).next]).toEqual([200, 1]);
    }
    expect((await s.fetch("/healthz")).status).toBe(200);
  });

  test("the stream checks its token before the upgrade, also from ?token= and the bearer subprotocol", async () => {
    await using s = await startTestServer({ auth: { worker_token: WORKER, read_tokens: [READER] } });
    const upgrade = {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    };
    const none = await s.fetch("/api/jobs/j/logs/stream", { headers: upgrade });
    const wrong = await s.fetch("/api/jobs/j/logs/stream?token=nope", { headers: upgrade });
    const wrongProto = await s.fetch("/api/jobs/j/logs/stream", {
      headers: { ...upgrade, "sec-websocket-protocol": "bearer.nope" },
    });
    expect([none.status, wrong.status, wrongProto.status]).toEqual([401, 403, 403]);
    // A token in the query of a non-stream route is not accepted (it would end up in access logs).
    expect((await s.fetch(`/api/jobs/j/logs?token=${READER}`)).status).toBe(401);
  });

  test("tokens can come from files, and the server refuses an open non-loopback listen", async () => {
    using dir = tempDir();
    const workerFile = join(dir.path, "worker");
    const readFile = join(dir.path, "readers");
    writeFileSync(workerFile, `${WORKER}\n`);
    writeFileSync(readFile, `# readers\n${READER}\nsecond-reader\n`);
    await using s = await startTestServer({
      auth: { worker_token_file: workerFile, read_tokens_file: readFile },
    });
    expect((await s.post("/worker/jobs/j/logs", body, { authorization: `Bearer ${WORKER}` })).status).toBe(
      200,
    );
    expect(
      (await s.fetch("/api/jobs/j/logs", { headers: { authorization: "Bearer second-reader" } })).status,
    ).toBe(200);

    const open = Bun.spawn([process.execPath, MAIN, "serve", "--listen", "0.0.0.0:0"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, STROEM__LOG_STORAGE__LOCAL_DIR: join(dir.path, "logs") },
    });
    const [out, err, code] = await Promise.all([
      new Response(open.stdout).text(),
      new Response(open.stderr).text(),
      open.exited,
    ]);
    expect([code, out, err.split("\n")[0]]).toEqual([
      2,
      "",
      "stroem-logs serve: refusing to serve on 0.0.0.0 without tokens: anyone on the network could read and write logs.",
    ]);
  });

  test("tokens never appear in check-config output", async () => {
    using dir = tempDir();
    const file = join(dir.path, "c.yaml");
    writeFileSync(file, `auth:\n  worker_token: ${WORKER}\n  read_tokens: [${READER}]\n`);
    const p = Bun.spawn([process.execPath, MAIN, "check-config", file], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    expect(await p.exited).toBe(0);
    expect(out).toContain('worker_token: "***"');
    expect(out.includes(WORKER) || out.includes(READER)).toBe(false);
  });

  test("a percent-encoded path is the same route and needs the same token (no bypass)", async () => {
    await using s = await startTestServer({ auth: { worker_token: WORKER, read_tokens: [READER] } });
    for (const [method, path] of [
      ["POST", "/%77orker/jobs/j/logs"],
      ["POST", "/w%6Frker/jobs/j/complete"],
      ["GET", "/%61pi/jobs/j/logs"],
      ["GET", "/api/jobs/j/%6Cogs"],
      ["GET", "/%61pi/jobs/j/logs/stream"],
      ["GET", "/%61pi/stats"],
    ] as const) {
      const r = await s.fetch(path, { method, ...(method === "POST" ? { body } : {}) });
      expect([method, path, r.status]).toEqual([method, path, 401]);
      const asReader = await s.fetch(path, {
        method,
        headers: { authorization: `Bearer ${READER}` },
        ...(method === "POST" ? { body } : {}),
      });
      if (method === "POST") expect([method, path, asReader.status]).toEqual([method, path, 403]);
    }
    expect(existsSync(join(s.dir, "j.jsonl"))).toBe(false);
  });

  test("the bearer subprotocol with a valid token opens the stream and is echoed back", async () => {
    await using s = await startTestServer({ auth: { worker_token: WORKER, read_tokens: [READER] } });
    await s.post("/worker/jobs/j/logs", body, { authorization: `Bearer ${WORKER}` });
    const ws = new WebSocket(`${s.url.replace(/^http/, "ws")}/api/jobs/j/logs/stream`, [`bearer.${READER}`]);
    const first = Promise.withResolvers<string>();
    ws.addEventListener("message", (e) => first.resolve(e.data as string));
    ws.addEventListener("close", (e) => first.reject(new Error(`closed ${e.code} ${e.reason}`)));
    expect(JSON.parse(await first.promise).line).toBe("line-0");
    expect(ws.protocol).toBe(`bearer.${READER}`);
    ws.close();
  });
});
