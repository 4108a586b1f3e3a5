// The compiled single binary, copied alone into an empty directory: it starts, serves, and stops on SIGTERM.
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { heldPush } from "../support/held-push.ts";
import { spawnServer } from "../support/process.ts";
import { tempDir } from "../support/server.ts";

const ROOT = join(import.meta.dir, "..", "..");

describe("compiled binary", () => {
  test("built alone into an empty directory, it starts, serves, and exits 0 on SIGTERM", async () => {
    using dir = tempDir();
    const built = join(dir.path, "build", "stroem-logs");
    const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "build.ts"), built], { cwd: ROOT });
    expect([build.exitCode, build.stderr.toString()]).toEqual([0, ""]);
    const empty = join(dir.path, "empty");
    mkdirSync(empty);
    const bin = join(empty, "stroem-logs");
    copyFileSync(built, bin);
    // A .env and bunfig.toml beside it must not be picked up.
    writeFileSync(join(empty, ".env"), "STROEM__SERVER__LISTEN=127.0.0.1:1\n");
    writeFileSync(join(empty, "bunfig.toml"), "this is not toml\n");

    const version = Bun.spawnSync([bin, "--version"], { cwd: empty });
    expect([version.exitCode, version.stdout.toString()]).toEqual([
      0,
      expect.stringMatching(/^stroem-logs \d+\.\d+\.\d+/),
    ]);

    const server = await spawnServer({}, { dir: dir.path, bin, cwd: empty });
    const push = await fetch(`${server.url}/worker/jobs/b1/logs`, {
      method: "POST",
      body: JSON.stringify({
        step_name: "s",
        lines: [{ ts: "2025-02-12T10:56:45.123Z", stream: "stdout", line: "hi" }],
      }),
    });
    expect(await push.json()).toEqual({ status: "ok", first: 0, next: 1 });
    const read = await fetch(`${server.url}/api/jobs/b1/logs?format=ndjson`);
    expect(await read.text()).toBe(
      '{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"s","line":"hi"}\n',
    );
    // The log viewer's page and its assets come from inside the binary; so do the regex search worker and the push decode worker.
    const page = await fetch(`${server.url}/jobs/b1`);
    const html = await page.text();
    expect([page.status, page.headers.get("content-type")]).toEqual([200, "text/html;charset=utf-8"]);
    const assets = [...html.matchAll(/(?:src|href)="(\/chunk-[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.map((a) => a.slice(a.lastIndexOf("."))).sort()).toEqual([".css", ".js"]);
    for (const a of assets) {
      const res = await fetch(`${server.url}${a}`);
      expect([a, res.status, (await res.text()).length > 1000]).toEqual([a, 200, true]);
    }
    expect((await fetch(`${server.url}/`)).status).toBe(200);
    const search = await fetch(`${server.url}/api/jobs/b1/search?re=^h.$`);
    expect(await search.json()).toEqual({ source: "local", matches: [0], from: 0, next: 1, done: true });
    // And the push decode worker: a body past 4 KiB, pushed while another push is being handled (one alone is
    // decoded on the server's thread), is parsed and encoded on it.
    const lines = Array.from({ length: 100 }, (_, i) => ({
      ts: "2025-02-12T10:56:45.123Z",
      stream: "stdout",
      line: `line ${i} ${"x".repeat(60)}`,
    }));
    const held = await heldPush(
      server.url,
      "/worker/jobs/b2/logs",
      JSON.stringify({ step_name: "s", lines: [{ stream: "stdout", line: "held" }] }),
    );
    const big = await fetch(`${server.url}/worker/jobs/b1/logs`, {
      method: "POST",
      body: JSON.stringify({ step_name: "s", lines }),
    });
    expect(await big.json()).toEqual({ status: "ok", first: 1, next: 101 });
    expect(await held.finish()).toContain('{"status":"ok","first":0,"next":1}');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain("\nstroem_logs_push_decodes_worker_total 1\n");
    const stored = await (await fetch(`${server.url}/api/jobs/b1/logs?format=ndjson&from=100`)).text();
    expect(stored).toBe(
      `{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"s","line":"line 99 ${"x".repeat(60)}"}\n`,
    );
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(server.stderr()).not.toContain("decode worker");
    expect(server.stderr()).toContain("SIGTERM: shutting down");
    await server[Symbol.asyncDispose]();
  }, 60_000);
});
