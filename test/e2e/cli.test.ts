// The CLI as a user runs it: real child processes, stdout, stderr and exit code checked together.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeBigLog } from "../support/biglog.ts";
import { pipedToHead } from "../support/pipe.ts";
import { MAIN } from "../support/process.ts";
import { makeLines, startTestServer, tempDir } from "../support/server.ts";

async function cli(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

describe("cli", () => {
  test("--version prints the version", async () => {
    const r = await cli(["--version"]);
    expect({ ...r, stdout: r.stdout.replace(/^stroem-logs \S+\n$/, "OK") }).toEqual({
      stdout: "OK",
      stderr: "",
      code: 0,
    });
  });

  test("check-config prints the effective config of a good file, tokens masked", async () => {
    using dir = tempDir();
    const file = join(dir.path, "ok.yaml");
    writeFileSync(
      file,
      "log_storage:\n  local_dir: /var/stroem/logs\n  s3:\n    bucket: b\n    region: eu-west-1\n",
    );
    const r = await cli(["check-config", file]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toContain(`# ${file}: valid`);
    expect(r.stdout).toContain("local_dir: /var/stroem/logs");
    expect(r.stdout).toContain("bucket: b");
    expect(r.stdout).toContain("listen: 127.0.0.1:8080");
  });

  test("check-config exits 2 naming the field of a bad file, and the line of a YAML error", async () => {
    using dir = tempDir();
    const bad = join(dir.path, "bad.yaml");
    writeFileSync(bad, "log_storage:\n  s3:\n    region: eu-west-1\n");
    expect(await cli(["check-config", bad])).toEqual({
      stdout: "",
      stderr: `stroem-logs check-config: invalid config:\n  ${bad}:2: log_storage.s3.bucket: required but missing\n`,
      code: 2,
    });
    const broken = join(dir.path, "broken.yaml");
    writeFileSync(broken, "server:\n  listen: [\n");
    const r = await cli(["check-config", broken]);
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toMatch(new RegExp(`^stroem-logs check-config: ${broken}:3:\\d+: YAML syntax error: `));
  });

  test("serve with a bad config exits 2 before binding a port", async () => {
    using dir = tempDir();
    const bad = join(dir.path, "bad.yaml");
    writeFileSync(bad, "server:\n  listen: nowhere\n");
    expect(await cli(["serve", "--config", bad])).toEqual({
      stdout: "",
      stderr: `stroem-logs serve: invalid config:\n  ${bad}:2: server.listen: expected HOST:PORT (got "nowhere")\n`,
      code: 2,
    });
  });

  test("serve with a local_dir it cannot create exits 1 with a message naming it", async () => {
    using dir = tempDir();
    const file = join(dir.path, "a-file");
    writeFileSync(file, "");
    const r = await cli(["serve", "--listen", "127.0.0.1:0"], {
      STROEM__LOG_STORAGE__LOCAL_DIR: join(file, "logs"),
    });
    expect([r.code, r.stdout, r.stderr.split(":")[0]]).toEqual([1, "", "stroem-logs serve"]);
    expect(r.stderr).toContain(`cannot open log_storage (local_dir ${join(file, "logs")}`);
  });

  test("an unknown command or flag is a usage error, exit 2", async () => {
    const unknown = await cli(["frobnicate"]);
    expect([unknown.code, unknown.stderr.split("\n")[0]]).toEqual([
      2,
      "stroem-logs: unknown command frobnicate",
    ]);
    const flag = await cli(["cat", "j", "--bogus"]);
    expect([flag.code, flag.stderr.split("\n")[0]]).toEqual([2, "stroem-logs cat: unknown option --bogus"]);
  });

  test("cat prints pretty lines, or JSONL with --raw, honouring --step, --tail and --from", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", {
      step_name: "build",
      lines: [
        { ts: "2025-02-12T10:56:45.123Z", stream: "stdout", line: "compiling" },
        { ts: "2025-02-12T10:56:46.456Z", stream: "stderr", line: "warning" },
      ],
    });
    await s.post("/worker/jobs/j/logs", { step_name: "test", lines: makeLines(2, "t") });
    const env = { STROEM_URL: s.url };
    expect(await cli(["cat", "j", "--step", "build"], env)).toEqual({
      stdout: "2025-02-12T10:56:45.123Z  build  compiling\n2025-02-12T10:56:46.456Z  build  warning\n",
      stderr: "",
      code: 0,
    });
    const raw = await cli(["cat", "j", "--raw", "--tail", "1", "--server", s.url]);
    expect(raw.stdout).toBe(
      '{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"test","line":"t-1"}\n',
    );
    const from = await cli(["cat", "j", "--from", "3"], env);
    expect(from.stdout).toBe("2025-02-12T10:56:45.123Z  test  t-1\n");
  });

  test("cat piped into a reader that closes after one line exits at once, quietly, as a Unix tool does", async () => {
    await using s = await startTestServer();
    // 20 MB: far more than a pipe holds, so cat is still writing when head goes away.
    writeBigLog(join(s.dir, "big.jsonl"), 20 * 1024 * 1024);
    const pretty = await pipedToHead(["cat", "big", "--server", s.url]);
    expect(pretty).toEqual({
      head: `2025-02-12T10:56:45.123Z  rare  line-0 ${"x".repeat(40)}\n`,
      code: 141, // 128 + SIGPIPE, what the shell reports for a tool ended by a closed pipe
      stderr: "",
    });
    const raw = await pipedToHead(["cat", "big", "--raw", "--server", s.url]);
    expect([raw.code, raw.stderr, JSON.parse(raw.head).line]).toEqual([141, "", `line-0 ${"x".repeat(40)}`]);
  });

  test("cat of a job with nothing stored prints nothing and exits 0; a bad id and an unreachable server exit 1", async () => {
    await using s = await startTestServer();
    expect(await cli(["cat", "nope"], { STROEM_URL: s.url })).toEqual({ stdout: "", stderr: "", code: 0 });
    const bad = await cli(["cat", "bad:id"], { STROEM_URL: s.url });
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([1, "", expect.stringContaining("invalid job id")]);
    const down = await cli(["cat", "j", "--server", "http://127.0.0.1:1"]);
    expect([down.code, down.stderr]).toEqual([
      1,
      expect.stringMatching(/^stroem-logs cat: cannot reach http:\/\/127\.0\.0\.1:1: /),
    ]);
  });

  test("complete ends a job and says so; a conflicting status exits 1", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(1) });
    const env = { STROEM_URL: s.url };
    expect(await cli(["complete", "j", "--status", "completed"], env)).toEqual({
      stdout: "job j marked completed\n",
      stderr: "",
      code: 0,
    });
    expect(await cli(["complete", "j", "--status", "failed"], env)).toEqual({
      stdout: "",
      stderr:
        "stroem-logs complete: server answered 409: job j already ended as completed; cannot mark it failed\n",
      code: 1,
    });
    const usage = await cli(["complete", "j"], env);
    expect([usage.code, usage.stderr.split("\n")[0]]).toEqual([
      2,
      "stroem-logs complete: --status is required",
    ]);
  });
});
