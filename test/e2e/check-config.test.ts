// `check-config` as an operator runs it: what serve would refuse, warnings on secret files, a config it accepts back.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about literal ${VAR} text in config values
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN } from "../support/process.ts";
import { tempDir } from "../support/server.ts";

async function cli(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

/** The printed config without its first line (`# FILE: valid; …`, which names the source). */
const body = (out: string) => out.slice(out.indexOf("\n") + 1);

describe("check-config", () => {
  test("its output, fed back to check-config, gives the same output (durations and sizes as text)", async () => {
    using dir = tempDir();
    const file = join(dir.path, "c.yaml");
    const token = join(dir.path, "worker-token");
    writeFileSync(token, "w-secret\n", { mode: 0o600 });
    writeFileSync(
      file,
      [
        "server: { listen: '0.0.0.0:8080', shutdown_timeout: 90s }",
        `auth: { worker_token_file: ${token}, read_tokens: [r1, r2] }`,
        "limits: { max_body_bytes: 4MiB, max_line_bytes: 1000, request_timeout: 2m }",
        "hooks: [{ url: 'https://ci.example/h', timeout: 1500ms, headers: { Authorization: 'Bearer z' } }]",
        "log: { format: json }",
        "",
      ].join("\n"),
    );
    const first = await cli(["check-config", file]);
    expect([first.code, first.stderr]).toEqual([0, ""]);
    expect(first.stdout.split("\n")[0]).toBe(`# ${file}: valid; effective config (flags aside):`);
    expect(body(first.stdout)).toContain("  shutdown_timeout: 90s\n");
    expect(body(first.stdout)).toContain("  max_body_bytes: 4MiB\n  max_line_bytes: 1000\n");
    expect(body(first.stdout)).toContain("    timeout: 1500ms\n");
    expect(first.stdout).not.toContain("w-secret");
    const again = await cli(["check-config", "-"], { stdin: first.stdout });
    expect({ ...again, stdout: body(again.stdout) }).toEqual({
      stdout: body(first.stdout),
      stderr: "",
      code: 0,
    });
    expect(again.stdout.split("\n")[0]).toBe("# <stdin>: valid; effective config (flags aside):");
  });

  test("a token file that is missing, empty or not a file is refused, exit 2, naming the field and the file", async () => {
    using dir = tempDir();
    const empty = join(dir.path, "empty");
    writeFileSync(empty, "# only a comment\n", { mode: 0o600 });
    const folder = join(dir.path, "folder");
    mkdirSync(folder);
    const missing = join(dir.path, "missing");
    const results = [];
    for (const [field, path] of [
      ["worker_token_file", missing],
      ["worker_token_file", empty],
      ["worker_token_file", folder],
    ] as const) {
      results.push(await cli(["check-config", "-"], { stdin: `auth: { ${field}: ${path} }\n` }));
    }
    expect(results).toEqual([
      {
        stdout: "",
        stderr: `stroem-logs check-config: auth.worker_token_file: cannot read ${missing}: ENOENT\n`,
        code: 2,
      },
      {
        stdout: "",
        stderr: `stroem-logs check-config: auth.worker_token_file: ${empty} holds no token\n`,
        code: 2,
      },
      {
        stdout: "",
        stderr: `stroem-logs check-config: auth.worker_token_file: cannot read ${folder}: EISDIR\n`,
        code: 2,
      },
    ]);
  });

  test("read tokens without a worker token, and no token on a public address, are refused as serve refuses them", async () => {
    const noWorker = await cli(["check-config", "-"], { stdin: "auth: { read_tokens: [r] }\n" });
    const open = await cli(["check-config", "-"], { stdin: "server: { listen: '0.0.0.0:8080' }\n" });
    expect([noWorker.code, noWorker.stderr, open.code, open.stderr.split("\n")[0]]).toEqual([
      2,
      "stroem-logs check-config: auth.worker_token: required when read tokens are set (otherwise nobody could write)\n",
      2,
      "stroem-logs check-config: refusing to serve on 0.0.0.0 without tokens: anyone on the network could read and write logs.",
    ]);
  });

  test("a secret file readable by group or others is a warning, and the config is still valid", async () => {
    using dir = tempDir();
    const worker = join(dir.path, "worker-token");
    const readers = join(dir.path, "read-tokens");
    writeFileSync(worker, "w\n");
    chmodSync(worker, 0o644);
    writeFileSync(readers, "r\n");
    chmodSync(readers, 0o640);
    const r = await cli(["check-config", "-"], {
      stdin: `auth: { worker_token_file: ${worker}, read_tokens_file: ${readers} }\n`,
    });
    expect([r.code, r.stderr]).toEqual([
      0,
      `stroem-logs check-config: warning: auth.worker_token_file: ${worker} is readable by group and others (mode 0644): chmod 600 it\n` +
        `stroem-logs check-config: warning: auth.read_tokens_file: ${readers} is readable by group (mode 0640): chmod 600 it\n`,
    ]);
  });

  test("masking.key_file: a key readable by others is a warning, a file without a 256-bit key is refused as serve refuses it", async () => {
    using dir = tempDir();
    const key = join(dir.path, "mask-key");
    writeFileSync(key, `${"ab".repeat(32)}\n`);
    chmodSync(key, 0o644);
    const shared = await cli(["check-config", "-"], { stdin: `masking: { key_file: ${key} }\n` });
    writeFileSync(key, "short\n");
    const bad = await cli(["check-config", "-"], { stdin: `masking: { key_file: ${key} }\n` });
    expect([shared.code, shared.stderr, bad.code, bad.stdout, bad.stderr]).toEqual([
      0,
      `stroem-logs check-config: warning: masking.key_file: ${key} is readable by group and others (mode 0644): chmod 600 it\n`,
      2,
      "",
      `stroem-logs check-config: masking.key_file: ${key} must hold a 256-bit key: 64 hex digits (openssl rand -hex 32) or 32 bytes in base64 (openssl rand -base64 32); it holds 5 characters of something else\n`,
    ]);
  });

  test("a bad environment value names the variable; a file value its line", async () => {
    const env = await cli(["check-config", "-"], {
      stdin: "log:\n  level: info\n",
      env: { STROEM__LOG__LEVEL: "loud" },
    });
    const file = await cli(["check-config", "-"], { stdin: "log:\n  format: text\n  level: loud\n" });
    expect([env, file]).toEqual([
      {
        stdout: "",
        stderr:
          'stroem-logs check-config: invalid config:\n  STROEM__LOG__LEVEL: log.level: expected debug, info, warn or error (got "loud")\n',
        code: 2,
      },
      {
        stdout: "",
        stderr:
          'stroem-logs check-config: invalid config:\n  <stdin>:3: log.level: expected debug, info, warn or error (got "loud")\n',
        code: 2,
      },
    ]);
  });

  test("token files named through ${CREDENTIALS_DIRECTORY} are read from there", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "worker-token"), "w\n", { mode: 0o600 });
    const stdin = "auth:\n  worker_token_file: ${CREDENTIALS_DIRECTORY}/worker-token\n";
    const ok = await cli(["check-config", "-"], { stdin, env: { CREDENTIALS_DIRECTORY: dir.path } });
    const unset = await cli(["check-config", "-"], { stdin, env: { CREDENTIALS_DIRECTORY: "" } });
    expect([ok.code, ok.stderr, ok.stdout.includes(`worker_token_file: ${dir.path}/worker-token\n`)]).toEqual(
      [0, "", true],
    );
    expect(unset).toEqual({
      stdout: "",
      stderr:
        "stroem-logs check-config: <stdin>:2: auth.worker_token_file: ${CREDENTIALS_DIRECTORY} is not set (systemd sets it for a unit with LoadCredential=)\n",
      code: 2,
    });
  });
});
