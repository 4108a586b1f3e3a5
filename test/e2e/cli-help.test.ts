// The CLI's help, usage errors, output safety and completions, as a user meets them: real child processes.
import { describe, expect, test } from "bun:test";
import { existsSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands.ts";
import { MAIN } from "../support/process.ts";
import { startTestServer, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

async function cli(args: string[], env: Record<string, string> = {}, stdin: "ignore" | number = "ignore") {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    stdin,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "", ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

/** A server that answers 500 to everything and counts what reached it (WebSocket upgrades included). */
function countingServer() {
  let requests = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch() {
      requests++;
      return new Response("counted", { status: 500 });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests: () => requests,
    [Symbol.dispose]: () => server.stop(true),
  };
}

describe("help", () => {
  test("every command answers --help and `help NAME` on stdout, exit 0, with its usage, every flag and an example", async () => {
    for (const c of COMMANDS) {
      const r = await cli([c.name, "--help"]);
      expect([c.name, r.code, r.stderr]).toEqual([c.name, 0, ""]);
      const lines = r.stdout.split("\n");
      expect(lines[0]).toStartWith(`stroem-logs ${c.name} — `);
      expect(lines).toContain("example:");
      expect(r.stdout).toContain(`\nusage: stroem-logs ${c.name}`);
      for (const flag of Object.keys(c.flags)) expect(r.stdout).toContain(`--${flag}`);
      expect(await cli(["help", c.name])).toEqual(r);
    }
  });

  test("--help wins over other arguments, but after -- it belongs to run's command", async () => {
    const h = await cli(["cat", "--bogus", "-h"]);
    expect([h.code, h.stderr, h.stdout.split("\n")[0]]).toEqual([
      0,
      "",
      expect.stringMatching(/^stroem-logs cat — /),
    ]);
    const run = await cli(["run", "--step", "s", "--", "echo", "--help"]);
    expect([run.code, run.stdout, run.stderr.split("\n")[0]]).toEqual([
      2,
      "",
      "stroem-logs run: --job is required",
    ]);
  });

  test("stroem-logs --help lists every command on stdout; bare stroem-logs prints it on stderr, exit 2", async () => {
    const top = await cli(["--help"]);
    expect([top.code, top.stderr]).toEqual([0, ""]);
    for (const c of COMMANDS)
      expect(top.stdout).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[()]/g, "\\$&")}$`, "m"));
    expect(await cli([])).toEqual({ stdout: "", stderr: top.stdout, code: 2 });
  });
});

describe("usage errors", () => {
  test("a bad flag value exits 2 naming the flag, before anything reaches the server or the command runs", async () => {
    using server = countingServer();
    using dir = tempDir();
    const ran = join(dir.path, "ran");
    const env = { STROEM_URL: server.url, STROEM_SPOOL: join(dir.path, "spool") };
    const cases: Array<[string[], string]> = [
      [["cat", "j", "--from", "x"], "stroem-logs cat: --from: expected a non-negative integer (got x)"],
      [["cat", "j", "--color=bogus"], "stroem-logs cat: --color: expected auto, always, never (got bogus)"],
      [["cat", "j", "--stream", "both"], "stroem-logs cat: --stream: expected stdout, stderr (got both)"],
      [
        ["tail", "j", "--retry-for", "soon"],
        "stroem-logs tail: --retry-for: expected a duration like 500ms, 5s or 2m (got soon)",
      ],
      [["tail", "j", "--color"], "stroem-logs tail: --color: expected a value"],
      [
        ["complete", "j", "--status", "done"],
        "stroem-logs complete: --status: expected completed, failed, cancelled, skipped (got done)",
      ],
      [
        ["push", "--job", "j", "--step", "s", "--batch-max", "1KiB"],
        "stroem-logs push: --batch-max: must be at least 65536 bytes (got 1024)",
      ],
      [
        ["push", "--job", "j", "--step", "s", "--mask-file", "-"],
        "stroem-logs push: --mask-file -: standard input is the log's input here; pass the secret in a file (or --mask-env, or /dev/fd/N)",
      ],
      [
        ["run", "--job", "j", "--step", "s", "--flush-interval", "fast", "--", "touch", ran],
        "stroem-logs run: --flush-interval: expected a duration like 200ms, 10s or 1m (got fast)",
      ],
      [["completion", "tcsh"], "stroem-logs completion: expected one shell: bash, zsh, fish (got tcsh)"],
      [["serve", "extra"], "stroem-logs serve: unexpected argument extra"],
    ];
    for (const [args, first] of cases) {
      const r = await cli(args, env);
      expect([args, r.code, r.stdout, r.stderr.split("\n")[0]]).toEqual([args, 2, "", first]);
    }
    expect([server.requests(), existsSync(ran)]).toEqual([0, false]);
  });

  test("durations and sizes take the config's units: tail --retry-for 1s gives up after a second", async () => {
    const r = await cli(["tail", "j", "--retry-for", "1s", "--server", "http://127.0.0.1:1"]);
    expect([r.code, r.stdout, r.stderr.trimEnd().split("\n").at(-1)]).toEqual([
      1,
      "",
      "stroem-logs tail: lost the stream of job j and could not reconnect for 1s",
    ]);
  });
});

describe("output safety", () => {
  test("cat escapes controls from job output; SGR is dropped without colour, kept with --color=always (over NO_COLOR); --raw is the stored JSONL", async () => {
    await using s = await startTestServer();
    const hostile = "\x1b]0;pwned\x07\x1b[32mgreen\x1b[0m\x1b[2J\rover";
    await s.post("/worker/jobs/j/logs", {
      step_name: "build",
      lines: [{ ts: "2025-02-12T10:56:45.123456Z", stream: "stderr", line: hostile }],
    });
    const env = { STROEM_URL: s.url };
    expect(await cli(["cat", "j"], env)).toEqual({
      stdout: "2025-02-12T10:56:45.123Z  build  \\e]0;pwned\\x07green\\e[2J\\rover\n",
      stderr: "",
      code: 0,
    });
    expect(
      await cli(["cat", "j", "--color=always", "--local"], { ...env, NO_COLOR: "1", TZ: "Asia/Kolkata" }),
    ).toEqual({
      stdout:
        "\x1b[31m2025-02-12T16:26:45.123+05:30  build  \\e]0;pwned\\x07\x1b[32mgreen\x1b[0m\\e[2J\\rover\x1b[0m\x1b[0m\n",
      stderr: "",
      code: 0,
    });
    const raw = await cli(["cat", "j", "--raw", "--color=always"], env);
    expect([raw.code, JSON.parse(raw.stdout).line, raw.stdout.includes("\x1b")]).toEqual([0, hostile, false]);
  });
});

describe("serve --config -", () => {
  test("a config read from standard input is not re-read on SIGHUP: its tokens stay", async () => {
    using dir = tempDir();
    const file = join(dir.path, "config.yaml");
    writeFileSync(
      file,
      `server:\n  listen: 127.0.0.1:0\nlog_storage:\n  local_dir: ${join(dir.path, "logs")}\nauth:\n  worker_token: w-secret-123456\n  read_tokens: [r-secret-123456]\n`,
    );
    const proc = Bun.spawn([process.execPath, MAIN, "serve", "--config", "-"], {
      stdin: openSync(file, "r"),
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      let out = "";
      let err = "";
      void (async () => {
        for await (const c of proc.stdout) out += new TextDecoder().decode(c);
      })();
      void (async () => {
        for await (const c of proc.stderr) err += new TextDecoder().decode(c);
      })();
      const url = await waitFor("listening", () => /listening on (\S+)/.exec(out)?.[1]);
      const status = async () => (await fetch(`${url}/api/jobs/j/logs`)).status;
      expect(await status()).toBe(401);
      proc.kill("SIGHUP");
      const line = await waitFor("the refusal", () => err.split("\n").find((l) => l.includes("SIGHUP")));
      expect(line).toBe(
        "error: SIGHUP: the config came from standard input, which cannot be read again: nothing changed (restart to change it)",
      );
      expect([await status(), proc.exitCode]).toEqual([401, null]);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });
});
