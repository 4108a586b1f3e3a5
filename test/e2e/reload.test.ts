// SIGHUP on a real server process: tokens, log settings and hooks change without a restart; connections stay.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { spawnServer } from "../support/process.ts";
import { makeLines, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import { watch, within } from "../support/ws.ts";

const WORKER = "worker-token-5c1e";

describe("SIGHUP reload", () => {
  test("a swapped read token: the old viewer keeps streaming, the old token is refused, the new one accepted", async () => {
    using dir = tempDir();
    const workerFile = join(dir.path, "worker-token");
    const readFile = join(dir.path, "read-tokens");
    writeFileSync(workerFile, `${WORKER}\n`, { mode: 0o600 });
    writeFileSync(readFile, "read-old\n", { mode: 0o600 });
    await using s = await spawnServer(
      { auth: { worker_token_file: workerFile, read_tokens_file: readFile } },
      { dir: dir.path },
    );
    const push = (n: number, start: number) =>
      fetch(`${s.url}/worker/jobs/j/logs`, {
        method: "POST",
        headers: { authorization: `Bearer ${WORKER}`, "content-type": "application/json" },
        body: JSON.stringify({ step_name: "build", lines: makeLines(n, "l", "stdout", start) }),
      });
    const read = async (token: string) =>
      (await fetch(`${s.url}/api/jobs/j/logs`, { headers: { authorization: `Bearer ${token}` } })).status;
    expect((await push(3, 0)).status).toBe(200);
    using viewer = watch(s.url, "j", { token: "read-old" });
    await viewer.waitLines(3);

    writeFileSync(readFile, "read-new\n", { mode: 0o600 });
    s.proc.kill("SIGHUP");
    const line = await waitFor("the reload's log line", () =>
      s
        .stderr()
        .split("\n")
        .find((l) => l.startsWith("info: SIGHUP: reloaded")),
    );
    expect(line).toBe(`info: SIGHUP: reloaded ${s.configPath}: read tokens: 1 → 1 (1 added, 1 removed)`);

    expect((await push(2, 3)).status).toBe(200);
    await viewer.waitLines(5);
    expect(
      viewer
        .text()
        .split("\n")
        .slice(0, 5)
        .map((l) => JSON.parse(l).line),
    ).toEqual(["l-0", "l-1", "l-2", "l-3", "l-4"]);
    expect([await read("read-old"), await read("read-new"), await read(WORKER)]).toEqual([403, 200, 200]);
    const refused = watch(s.url, "j", { token: "read-old" });
    await expect(refused.opened).rejects.toThrow("closed before opening");
    expect(s.stderr()).not.toContain("read-new");
    expect(s.stderr()).not.toContain("read-old");
    expect(s.proc.exitCode).toBe(null);
  });

  test("a bad new config is refused with a log line; the running one stays, and so does the viewer", async () => {
    using dir = tempDir();
    await using s = await spawnServer(
      { auth: { worker_token: WORKER, read_tokens: ["r1"] } },
      { dir: dir.path },
    );
    const auth = { authorization: `Bearer ${WORKER}`, "content-type": "application/json" };
    await fetch(`${s.url}/worker/jobs/j/logs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ step_name: "s", lines: makeLines(1) }),
    });
    using viewer = watch(s.url, "j", { token: "r1" });
    await viewer.waitLines(1);

    writeFileSync(
      s.configPath,
      "auth:\n  worker_token: w\n  read_tokens: [r2]\nlimits:\n  max_streams: lots\n",
    );
    s.proc.kill("SIGHUP");
    const refusal = await waitFor(
      "the refusal",
      () => /^error: SIGHUP: new config refused.*(\n {2}.*)*/m.exec(s.stderr())?.[0],
    );
    expect(refusal).toBe(
      `error: SIGHUP: new config refused, the running one stays: invalid config:\n  ${s.configPath}:5: limits.max_streams: expected a whole number (got "lots")`,
    );
    const status = async (token: string) =>
      (await fetch(`${s.url}/api/jobs/j`, { headers: { authorization: `Bearer ${token}` } })).status;
    expect([await status("r1"), await status("r2")]).toEqual([200, 403]);

    const metrics = await (
      await fetch(`${s.url}/metrics`, { headers: { authorization: "Bearer r1" } })
    ).text();
    expect(
      metrics
        .split("\n")
        .filter(
          (l) =>
            l.startsWith("stroem_logs_config_reload") ||
            l.startsWith("stroem_logs_config_last_reload_successful"),
        ),
    ).toEqual([
      'stroem_logs_config_reloads_total{result="ok"} 0',
      'stroem_logs_config_reloads_total{result="refused"} 1',
      "stroem_logs_config_last_reload_successful 0",
    ]);

    await fetch(`${s.url}/worker/jobs/j/logs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ step_name: "s", lines: makeLines(1, "after") }),
    });
    await viewer.waitLines(2);
    expect(s.proc.exitCode).toBe(null);
  });

  test("log settings apply at once; a setting that needs a restart is named and keeps its value", async () => {
    using dir = tempDir();
    const base = { server: { listen: "127.0.0.1:0" }, log_storage: { local_dir: join(dir.path, "logs") } };
    await using s = await spawnServer({}, { dir: dir.path });
    await fetch(`${s.url}/healthz`);
    expect(s.stderr()).not.toContain("access");

    writeFileSync(
      s.configPath,
      stringify({ ...base, log: { format: "json", access: true }, limits: { max_streams: 5 } }),
    );
    s.proc.kill("SIGHUP");
    await waitFor("the reload", () => s.stderr().includes("SIGHUP: reloaded"));
    await fetch(`${s.url}/healthz`);
    const entries = await waitFor("an access line", () => {
      const json = s
        .stderr()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { level: string; msg: string; fields?: Record<string, unknown> });
      return json.some((e) => e.msg === "access") ? json : false;
    });
    expect(entries.map((e) => [e.level, e.msg])).toEqual([
      ["info", `SIGHUP: reloaded ${s.configPath}: log.access: false → true; log.format: "text" → "json"`],
      [
        "warn",
        "SIGHUP: limits.max_streams changed but take effect at the next restart (a reload applies log, auth, hooks)",
      ],
      ["info", "access"],
    ]);
    expect(entries[2]!.fields).toMatchObject({ method: "GET", route: "/healthz", status: 200 });
  });

  test("a hook added by a reload fires for the next job that ends", async () => {
    using dir = tempDir();
    const got = Promise.withResolvers<Record<string, unknown>>();
    using receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        got.resolve((await req.json()) as Record<string, unknown>);
        return new Response("ok");
      },
    });
    await using s = await spawnServer({}, { dir: dir.path });
    writeFileSync(
      s.configPath,
      stringify({
        server: { listen: "127.0.0.1:0" },
        log_storage: { local_dir: join(dir.path, "logs") },
        hooks: [{ url: `http://127.0.0.1:${receiver.port}/hook` }],
      }),
    );
    s.proc.kill("SIGHUP");
    await waitFor("the reload", () => s.stderr().includes("SIGHUP: reloaded"));
    expect(s.stderr()).toContain("hooks replaced (1 now)");
    const post = (path: string, body: unknown) =>
      fetch(`${s.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await post("/worker/jobs/h/logs", { step_name: "s", lines: makeLines(1) });
    await post("/worker/jobs/h/complete", { status: "completed" });
    const payload = await within("the hook's POST", got.promise);
    expect([payload.id, payload.status]).toEqual(["h", "completed"]);
  });
});
