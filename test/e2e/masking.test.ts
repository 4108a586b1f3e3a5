// Secrets registered for a job never reach any tier: the file, the database, reads, live frames, the archive, the service log.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { secretForms } from "../../src/core/mask-forms.ts";
import { createLogger } from "../../src/log.ts";
import { startS3 } from "../support/s3.ts";
import { parseJsonl, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";
import { watch } from "../support/ws.ts";

const TS = "2025-02-12T10:56:45.123Z";
/** `/`, `+`, `=`, `!` and a space: each has its own URL- and JSON-encoding. */
const TOKEN = "s3cr3t/Tok+en=Zq9! xY4";
/** A key printed line by line, split across two pushes. */
const PEM =
  "-----BEGIN TEST KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEF\nAASCAT8wggE7AgEAAkEA0Z3VS5JJ\n-----END TEST KEY-----";
/** Registered mid-job by the worker. */
const LATER = "later-registered-Vq7pW2xK";
const KEY = "7f".repeat(32);

const b64 = (s: string) => Buffer.from(s).toString("base64");
const b64url = (s: string) => Buffer.from(s).toString("base64url");

/** Every form of every value, with a name for the failure message. */
const FORMS = [TOKEN, PEM, LATER].flatMap((v, i) =>
  secretForms(v).map((f, j) => ({ name: `value ${i} form ${j}`, bytes: Buffer.from(f, "utf8") })),
);

/** The forms found in `bytes` (none expected). */
function leaks(what: string, bytes: Uint8Array | string): string[] {
  const buf = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes);
  return FORMS.filter((f) => buf.includes(f.bytes)).map((f) => `${what}: ${f.name}`);
}

/** A hook receiver whose answer's reason phrase carries the token (Bun.serve cannot set one: raw TCP). */
async function leakyHook(): Promise<{ url: string; hits: number; [Symbol.dispose](): void }> {
  const state = { hits: 0 };
  const srv = createServer((sock) => {
    sock.once("data", () => {
      state.hits++;
      sock.end(`HTTP/1.1 500 upstream said ${TOKEN}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    get hits() {
      return state.hits;
    },
    [Symbol.dispose]: () => srv.close(),
  };
}

const push = (s: TestServer, id: string, step: string, lines: string[]) =>
  s.post(`/worker/jobs/${id}/logs`, {
    step_name: step,
    lines: lines.map((line) => ({ ts: TS, stream: "stdout", line })),
  });

const text = async (res: Response) => {
  expect(res.status).toBe(200);
  return res.text();
};

describe("secrets registered for a job", () => {
  test("a secret printed in every encoding, split across pushes, truncated, in a server event, a job's error and a hook's output is in no tier", async () => {
    await using s3 = await startS3();
    using hook = await leakyHook();
    using keyDir = tempDir();
    const keyFile = join(keyDir.path, "mask.key");
    writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
    const serviceLog: string[] = [];
    const log = createLogger({
      write: (l) => serviceLog.push(l),
      settings: { level: "debug", access: true },
    });
    await using s = await startTestServer(
      {
        log_storage: { archive: s3.archive("logs/") },
        limits: { max_line_bytes: 4096 },
        hooks: [{ url: hook.url, retries: 0 }],
        masking: { key_file: keyFile },
        log: { level: "debug", access: true },
      },
      { log },
    );
    const id = "job-secret";
    const put = await s.fetch(`/api/jobs/${id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspace: "ws", task: "deploy", created_at: TS, secrets: [TOKEN, PEM] }),
    });
    expect(put.status).toBe(201);
    const view = (await put.json()) as Record<string, unknown>;
    expect(view.secrets).toEqual({ count: 2, state: "ok" });
    expect(leaks("PUT answer", JSON.stringify(view))).toEqual([]);

    using viewer = watch(s.url, id);
    await viewer.opened;

    const pemLines = PEM.split("\n");
    const long = `${"x".repeat(4091)}${TOKEN}tail`;
    expect(
      (
        await push(s, id, "deploy", [
          `token=${TOKEN}`,
          `Authorization: Basic ${b64(`deployer:${TOKEN}`)}`,
          `aligned 0: ${b64(TOKEN)} 1: ${b64(`a${TOKEN}`)} 2: ${b64(`ab${TOKEN}`)}`,
          `url-safe: ${b64url(TOKEN)} unpadded: ${b64(TOKEN).replace(/=+$/, "")}`,
          `GET https://api.example/v1?token=${encodeURIComponent(TOKEN)}&x=1`,
          `form: password=${new URLSearchParams({ p: TOKEN }).toString().slice(2)}`,
          `{"level":"debug","config":${JSON.stringify({ token: TOKEN })}}`,
          `key as JSON: ${JSON.stringify(PEM)} and base64: ${b64(PEM)}`,
          long,
          pemLines[0]!,
          pemLines[1]!,
        ])
      ).status,
    ).toBe(200);
    expect((await push(s, id, "deploy", [`  ${pemLines[2]!}`, pemLines[3]!, "done"])).status).toBe(200);
    const ev = await s.post(`/api/jobs/${id}/events`, { message: `orchestrator: step deploy got ${TOKEN}` });
    expect(ev.status).toBe(200);

    // Registered by the worker mid-job: the line before stays, every line after is masked.
    expect((await push(s, id, "deploy", [`before registration: ${LATER}`])).status).toBe(200);
    const before = (await (await s.fetch(`/api/jobs/${id}`)).json()) as { lines: number };
    const reg = await s.post(`/worker/jobs/${id}/secrets`, { secrets: [LATER] });
    expect(await reg.json()).toEqual({ status: "ok", added: 1, secrets: 3 });
    expect((await push(s, id, "deploy", [`after: ${LATER}`, `again ${b64(LATER)}`])).status).toBe(200);
    expect((await s.post(`/api/jobs/${id}/events`, { message: `event: ${LATER}` })).status).toBe(200);

    const done = await s.post(`/worker/jobs/${id}/complete`, {
      status: "failed",
      error: `curl: (22) https://deployer:${TOKEN}@api.example/ returned 401`,
    });
    expect(done.status).toBe(200);
    const closed = await viewer.closed;
    expect(closed.code).toBe(1000);
    await untilEvent(s.events, "archive.uploaded", "the archive of the job", async () => {
      const j = (await (await s.fetch(`/api/jobs/${id}`)).json()) as {
        bytes: number;
        archive: { state: string; log_bytes: number } | null;
      };
      return j.archive?.state === "uploaded" && j.archive.log_bytes === j.bytes;
    });
    expect(hook.hits).toBe(1);

    // The log as stored: each leaked line masked, the line stored before the late registration kept.
    const file = readFileSync(join(s.dir, `${id}.jsonl`));
    const lines = parseJsonl(file.toString("utf8")).map((l) => `${l.step}: ${l.line}`);
    const beforeLine = `deploy: before registration: ${LATER}`;
    expect(lines.filter((l) => l.includes(LATER))).toEqual([beforeLine]);
    expect(lines).toContain("deploy: token=***");
    expect(lines).toContain("deploy: form: password=***");
    expect(lines).toContain("deploy: ***");
    expect(lines).toContain("deploy: after: ***");
    expect(lines).toContain("_server: orchestrator: step deploy got ***");
    expect(lines).toContain("_server: event: ***");
    expect(lines).toContain(`_server: [hooks] hook ${hook.url} failed: HTTP 500 upstream said ***`);
    expect(lines).toContain(
      `_server: [masking] 1 secret registered (3 in all); ${before.lines} lines were stored before and are not masked retroactively`,
    );
    // Masked before the cut: the cut leaves no start of the value behind.
    const cut = lines.find((l) => l.startsWith("deploy: xxxx"))!;
    expect(
      /^deploy: (x*)(.*)…\[truncated \d+ bytes\]$/
        .exec(cut)
        ?.slice(1)
        .map((p, i) => (i === 0 ? p.length : p)),
    ).toEqual([4091, "***ta"]);

    // The raw bytes of every tier; the one line stored before LATER was registered is taken out first.
    const unmaskedBefore = JSON.stringify(`before registration: ${LATER}`);
    const strip = (t: string) =>
      t.split(unmaskedBefore).join("").split(`before registration: ${LATER}`).join("");
    const found: string[] = [];
    found.push(...leaks("file", strip(file.toString("utf8"))));
    for (const f of readdirSync(s.dir).filter((n) => n.startsWith("stroem-logs.db"))) {
      found.push(...leaks(`database ${f}`, readFileSync(join(s.dir, f))));
    }
    found.push(...leaks("live frames", strip(viewer.text())));
    const reads = [
      `/api/jobs/${id}/logs`,
      `/api/jobs/${id}/logs?format=ndjson`,
      `/api/jobs/${id}/logs?from=0&limit=5`,
      `/api/jobs/${id}/logs?tail=3`,
      `/api/jobs/${id}/steps/deploy/logs`,
      `/api/jobs/${id}/steps/_server/logs`,
      `/api/jobs/${id}/logs/download`,
      `/api/jobs/${id}/logs/download?format=text`,
      `/api/jobs/${id}/search?q=${encodeURIComponent("***")}`,
      `/api/jobs/${id}/steps`,
      `/api/jobs/${id}`,
      "/api/jobs",
    ];
    for (const path of reads) {
      const body = await text(await s.fetch(path));
      // A JSON read escapes the kept line once more.
      found.push(...leaks(path, strip(body.split(JSON.stringify(unmaskedBefore).slice(1, -1)).join(""))));
    }
    const [key] = await s3.keys();
    const object = await s3.getRaw(key!);
    const archived = gunzipSync(object!.bytes).toString("utf8");
    expect(archived).toBe(file.toString("utf8"));
    found.push(...leaks("archive", strip(archived)));
    found.push(...leaks("service log", serviceLog.join("\n")));
    expect(found).toEqual([]);
    // What was asked of the service log was written (the access lines, the hook's failure).
    expect(serviceLog.some((l) => l.startsWith("info: access") && l.includes("/secrets"))).toBe(true);
    expect(serviceLog.some((l) => l.includes("upstream said ***"))).toBe(true);
  });

  test("values shorter than 4 characters are refused with 400 and nothing is registered", async () => {
    await using s = await startTestServer();
    const r = await s.post(`/worker/jobs/j1/secrets`, { secrets: ["long-enough-value", " ab "] });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({
      error:
        "secrets[1]: a secret must be at least 4 characters long, not counting leading and trailing whitespace (got 2): a shorter value would mask ordinary text",
      code: "invalid_secret",
    });
    const put = await s.fetch("/api/jobs/j2", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspace: "w", task: "t", secrets: ["abc"] }),
    });
    expect(put.status).toBe(400);
    expect(((await put.json()) as { code: string }).code).toBe("invalid_secret");
    // Nothing was written: no job, and a later line is not masked by the refused list.
    expect((await s.fetch("/api/jobs/j2")).status).toBe(404);
    expect((await push(s, "j1", "s", ["long-enough-value"])).status).toBe(200);
    const logs = (await (await s.fetch("/api/jobs/j1/logs")).json()) as { logs: string };
    expect(parseJsonl(logs.logs).map((l) => l.line)).toEqual(["long-enough-value"]);
  });

  test("the registration routes take the worker token only: a read token is refused with 403", async () => {
    await using s = await startTestServer({
      auth: { worker_token: "worker-tok", read_tokens: ["read-tok"] },
    });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const add = (token: string) => s.post("/worker/jobs/j/secrets", { secrets: ["value-1234"] }, as(token));
    expect((await add("read-tok")).status).toBe(403);
    const put = await s.fetch("/api/jobs/j", {
      method: "PUT",
      headers: { "content-type": "application/json", ...as("read-tok") },
      body: JSON.stringify({ workspace: "w", task: "t", secrets: ["value-1234"] }),
    });
    expect(put.status).toBe(403);
    expect((await s.fetch("/api/jobs/j", { headers: as("read-tok") })).status).toBe(404);
    const ok = await add("worker-tok");
    expect(await ok.json()).toEqual({ status: "ok", added: 1, secrets: 1 });
    // Readable back nowhere: the job shows a count.
    const job = (await (await s.fetch("/api/jobs/j", { headers: as("read-tok") })).json()) as Record<
      string,
      unknown
    >;
    expect(job.secrets).toEqual({ count: 1, state: "ok" });
    expect(JSON.stringify(job)).not.toContain("value-1234");
  });
});

describe("where registered secrets live", () => {
  const register = (s: TestServer, id: string, values: string[]) =>
    s.fetch(`/api/jobs/${id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspace: "w", task: "t", secrets: values }),
    });
  const linesOf = async (s: TestServer, id: string) =>
    parseJsonl(((await (await s.fetch(`/api/jobs/${id}/logs`)).json()) as { logs: string }).logs)
      .filter((l) => l.step !== "_server")
      .map((l) => l.line);
  const dbBytes = (dir: string) =>
    Buffer.concat(
      readdirSync(dir)
        .filter((n) => n.startsWith("stroem-logs.db"))
        .map((n) => readFileSync(join(dir, n))),
    );

  test("with masking.key_file the values are sealed in the database and mask lines after a restart", async () => {
    using dir = tempDir();
    using keyDir = tempDir();
    const keyFile = join(keyDir.path, "key");
    writeFileSync(keyFile, Buffer.alloc(32, 7).toString("base64"));
    const config = { masking: { key_file: keyFile } };
    {
      await using s = await startTestServer(config, { dir: dir.path });
      expect((await register(s, "j", [TOKEN])).status).toBe(201);
      expect((await push(s, "j", "s", [`a ${TOKEN}`])).status).toBe(200);
    }
    expect(dbBytes(dir.path).includes(Buffer.from(TOKEN))).toBe(false);
    await using s = await startTestServer(config, { dir: dir.path });
    expect((await push(s, "j", "s", [`b ${TOKEN}`])).status).toBe(200);
    expect(await linesOf(s, "j")).toEqual(["a ***", "b ***"]);
    expect(dbBytes(dir.path).includes(Buffer.from(TOKEN))).toBe(false);
  });

  test("without a key file a restart loses the values: the job's pushes and events are refused with 503, nothing stored unmasked", async () => {
    using dir = tempDir();
    {
      await using s = await startTestServer({}, { dir: dir.path });
      expect((await register(s, "j", [TOKEN])).status).toBe(201);
      expect((await push(s, "j", "s", [`a ${TOKEN}`])).status).toBe(200);
    }
    expect(dbBytes(dir.path).includes(Buffer.from(TOKEN))).toBe(false);
    await using s = await startTestServer({}, { dir: dir.path });
    const r = await push(s, "j", "s", [`b ${TOKEN}`]);
    expect([r.status, await r.json()]).toEqual([
      503,
      {
        error:
          "job j: its 1 registered secrets were kept in memory only (masking.key_file is not set) and were lost when the server restarted; its lines can no longer be masked, so they are refused rather than stored unmasked",
        code: "secrets_unavailable",
      },
    ]);
    const ev = await s.post("/api/jobs/j/events", { message: `x ${TOKEN}` });
    expect([ev.status, ((await ev.json()) as { code: string }).code]).toEqual([503, "secrets_unavailable"]);
    expect((await s.post("/worker/jobs/j/secrets", { secrets: ["another-value"] })).status).toBe(503);
    expect(await linesOf(s, "j")).toEqual(["a ***"]);
    const job = (await (await s.fetch("/api/jobs/j")).json()) as { secrets: unknown };
    expect(job.secrets).toEqual({ count: 1, state: "lost" });
    // Other jobs are not affected.
    expect((await push(s, "other", "s", [TOKEN])).status).toBe(200);
    expect(await linesOf(s, "other")).toEqual([TOKEN]);
  });

  test("sealed values that the configured key does not open are lost too, with a warning naming the job", async () => {
    using dir = tempDir();
    using keyDir = tempDir();
    const keyFile = join(keyDir.path, "key");
    writeFileSync(keyFile, "11".repeat(32));
    {
      await using s = await startTestServer({ masking: { key_file: keyFile } }, { dir: dir.path });
      expect((await register(s, "j", [TOKEN])).status).toBe(201);
    }
    writeFileSync(keyFile, "22".repeat(32));
    const warnings: string[] = [];
    const log = createLogger({ write: (l) => warnings.push(l) });
    await using s = await startTestServer({ masking: { key_file: keyFile } }, { dir: dir.path, log });
    expect((await push(s, "j", "s", [TOKEN])).status).toBe(503);
    expect(warnings.filter((w) => w.startsWith("warn: job j:"))).toEqual([
      expect.stringContaining("warn: job j: its 1 registered secrets do not open with masking.key_file"),
    ]);
  });

  test("a key file that holds no 256-bit key stops the start with a message naming the file", async () => {
    using keyDir = tempDir();
    const keyFile = join(keyDir.path, "key");
    writeFileSync(keyFile, "not-a-key\n");
    await expect(startTestServer({ masking: { key_file: keyFile } })).rejects.toThrow(
      `masking.key_file: ${keyFile} must hold a 256-bit key: 64 hex digits (openssl rand -hex 32) or 32 bytes in base64 (openssl rand -base64 32); it holds 9 characters of something else`,
    );
  });

  test("masking.forget_after after a job settled its values are deleted and a late line is refused with 409", async () => {
    using keyDir = tempDir();
    const keyFile = join(keyDir.path, "key");
    writeFileSync(keyFile, "33".repeat(32));
    await using s = await startTestServer({ masking: { key_file: keyFile, forget_after: "0s" } });
    expect((await register(s, "j", [TOKEN])).status).toBe(201);
    expect((await push(s, "j", "s", [`a ${TOKEN}`])).status).toBe(200);
    const forgotten = untilEvent(s.events, "masking.forgotten", "the values to be deleted", async () => {
      const j = (await (await s.fetch("/api/jobs/j")).json()) as { secrets: { state: string } };
      return j.secrets.state === "forgotten";
    });
    expect((await s.post("/worker/jobs/j/complete", { status: "completed" })).status).toBe(200);
    await forgotten;
    const late = await push(s, "j", "s", [`late ${TOKEN}`]);
    expect([late.status, ((await late.json()) as { code: string }).code]).toEqual([409, "secrets_forgotten"]);
    expect(await linesOf(s, "j")).toEqual(["a ***"]);
  });

  test("a value registered while lines wait in the size-cap window masks them when they join the log", async () => {
    await using s = await startTestServer({ limits: { max_job_bytes: 4000 } });
    for (let b = 0; b < 10; b++) {
      const lines = Array.from({ length: 5 }, (_, i) => `line ${b * 5 + i} ${LATER}`);
      expect((await push(s, "j", "s", lines)).status).toBe(200);
    }
    const running = await linesOf(s, "j");
    expect((await s.post("/worker/jobs/j/secrets", { secrets: [LATER] })).status).toBe(200);
    await s.post("/worker/jobs/j/complete", { status: "completed" });
    await untilEvent(
      s.events,
      "settled",
      "the job to settle",
      async () => ((await (await s.fetch("/api/jobs/j")).json()) as { settled: boolean }).settled,
    );
    const all = await linesOf(s, "j");
    // The head was stored before the registration and stays; the window's lines are masked.
    expect(all.slice(0, running.length)).toEqual(running);
    const released = all.slice(running.length);
    expect(released.length).toBeGreaterThan(0);
    expect(released.filter((l) => l!.includes(LATER))).toEqual([]);
    expect(released.at(-1)).toBe("line 49 ***");
  });
});
