import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, tempDir } from "../support/server.ts";
import { BUN, freePort, jobLines, shipper } from "./shipper-helpers.ts";

// Two secrets: one with URL-special characters and a space, one with JSON-special characters.
const TOKEN = "Sup3r-S3cret/Token+with space&more=1";
const QUOTED = 'pa"ss\\word-42-xyz';

/**
 * What must never be stored: each secret raw and in each encoding the command prints. A base64 run may keep
 * one character at either end (it also carries bits of the neighbours), so only its core is searched for.
 */
function leakedForms(secret: string): string[] {
  const bytes = Buffer.from(secret);
  const b64 = [0, 1, 2].map((k) =>
    Buffer.concat([Buffer.alloc(k, 0xff), bytes, Buffer.alloc(2, 0xff)])
      .toString("base64")
      .slice(2 + k, -5),
  );
  return [
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    encodeURIComponent(secret).replaceAll("%20", "+"),
    ...b64,
  ];
}

/** Prints each secret (from the environment) raw and encoded, on stdout and stderr, and in a long line. */
const PRINTER = `
  const out = [];
  for (const s of [process.env.TOKEN, process.env.QUOTED]) {
    const b = Buffer.from(s);
    out.push("raw: " + s);
    out.push("json: " + JSON.stringify({ token: s }));
    out.push("url: https://example.com/cb?token=" + encodeURIComponent(s) + "&x=1");
    out.push("form: token=" + encodeURIComponent(s).replaceAll("%20", "+") + "&x=1");
    for (const k of [0, 1, 2])
      out.push("b64: " + Buffer.concat([Buffer.alloc(k, 0xff), b, Buffer.alloc(2, 0xff)]).toString("base64"));
    // A line longer than --max-line 64 with the secret across the first cut.
    out.push("x".repeat(50) + s + "y".repeat(80));
  }
  console.log(out.join("\\n"));
  console.error("stderr: " + process.env.TOKEN);
`;

/** Every file under `dir`, as one buffer. */
function bytesUnder(dir: string): Buffer {
  const all: Buffer[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else all.push(readFileSync(p));
    }
  };
  walk(dir);
  return Buffer.concat(all);
}

const found = (bytes: Buffer, secrets: string[]) =>
  secrets.flatMap(leakedForms).filter((f) => bytes.includes(Buffer.from(f)));

describe("stroem-logs run --mask-env", () => {
  test("the printer used below really prints every form searched for (the search cannot pass by missing)", () => {
    const printed = Bun.spawnSync([BUN, "-e", PRINTER], { env: { ...process.env, TOKEN, QUOTED } });
    const out = Buffer.concat([printed.stdout, printed.stderr]);
    expect(found(out, [TOKEN, QUOTED])).toEqual([TOKEN, QUOTED].flatMap(leakedForms));
  });

  test("a secret printed raw and encoded never reaches the spool's bytes, the server's file or the echo", async () => {
    using spool = tempDir();
    const env = { TOKEN, QUOTED };
    const args = ["--job", "masked", "--step", "s", "--spool", spool.path, "--max-line", "64"];
    // No server yet: every line stays in the spool, where its bytes can be searched.
    await using offline = shipper(
      [
        "run",
        ...["--server", `http://127.0.0.1:${freePort()}`, ...args, "--mask-env", "TOKEN,QUOTED"],
        ...["--drain-timeout", "200ms", "--retry-max", "100ms", "--", BUN, "-e", PRINTER],
      ],
      { env },
    );
    const ran = await offline.result();
    expect(ran.code).toBe(125);
    expect(ran.stderr).toMatch(/lines not delivered within --drain-timeout/);
    const spooled = bytesUnder(spool.path);
    expect(spooled.includes("raw: ***")).toBe(true);
    expect(found(spooled, [TOKEN, QUOTED])).toEqual([]);
    // The echo is masked too.
    expect(ran.stdout).toContain("raw: ***\n");
    expect(found(Buffer.from(ran.stdout + ran.stderr), [TOKEN, QUOTED])).toEqual([]);

    // The server comes up; `push` delivers what the spool holds (it has no secrets to know of).
    await using server = await startTestServer();
    await using resume = shipper(["push", "--server", server.url, ...args], {});
    expect((await resume.result()).code).toBe(0);
    const file = readFileSync(join(server.dir, "masked.jsonl"));
    expect(found(file, [TOKEN, QUOTED])).toEqual([]);
    const lines = (await jobLines(server.url, "masked")).map((l) => `${l.stream} ${l.line}`);
    const b64 = expect.stringMatching(/^stdout b64: [A-Za-z0-9+/]{0,4}\*\*\*[A-Za-z0-9+/=]{0,6}$/);
    // The long line is masked before it is cut at 64 bytes: nothing lost but the secret.
    const long = [`stdout ${"x".repeat(50)}***${"y".repeat(11)}`, `stdout ${"y".repeat(64)}`, "stdout yyyyy"];
    expect(lines).toEqual([
      "stdout raw: ***",
      'stdout json: {"token":"***"}',
      "stdout url: https://example.com/cb?token=***&x=1",
      "stdout form: token=***&x=1",
      b64,
      b64,
      b64,
      ...long,
      "stdout raw: ***",
      'stdout json: {"token":"***"}',
      "stdout url: https://example.com/cb?token=***&x=1",
      "stdout form: token=***&x=1",
      b64,
      b64,
      b64,
      ...long,
      "stderr stderr: ***",
    ]);
  }, 30_000);

  test("lines delivered while the command runs are masked on the server and in every read", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using run = shipper(
      [
        "run",
        ...[
          "--server",
          server.url,
          "--job",
          "live",
          "--step",
          "s",
          "--spool",
          spool.path,
          "--mask-env",
          "TOKEN",
        ],
        ...["--", "sh", "-c", 'echo "token is $TOKEN"; echo "done"'],
      ],
      { env: { TOKEN } },
    );
    expect(await run.result()).toEqual({ code: 0, stdout: "token is ***\ndone\n", stderr: "" });
    expect((await jobLines(server.url, "live")).map((l) => l.line)).toEqual(["token is ***", "done"]);
    expect(found(readFileSync(join(server.dir, "live.jsonl")), [TOKEN])).toEqual([]);
  });

  test("a value shorter than 4 characters is refused and the command is not started", async () => {
    using spool = tempDir();
    const marker = join(spool.path, "started");
    await using run = shipper(
      [
        "run",
        ...["--server", `http://127.0.0.1:${freePort()}`, "--job", "short", "--step", "s"],
        ...["--spool", spool.path, "--mask-env", "PIN", "--", "touch", marker],
      ],
      { env: { PIN: "123" } },
    );
    const r = await run.result();
    expect({ ...r, started: existsSync(marker) }).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "stroem-logs run: --mask-env PIN: a secret must be at least 4 characters long, not counting leading and " +
        "trailing whitespace (got 3): a shorter value would mask ordinary text\n",
      started: false,
    });
  });

  test("an unset variable is named in a warning and the command runs", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "unset", "--step", "s", "--spool", spool.path],
      ...["--mask-env", "STROEM_TEST_NOT_SET", "--", "echo", "hello"],
    ]);
    expect(await run.result()).toEqual({
      code: 0,
      stdout: "hello\n",
      stderr: "stroem-logs run: --mask-env STROEM_TEST_NOT_SET: not set, nothing to mask\n",
    });
  });
});

describe("stroem-logs push --mask-env", () => {
  test("lines read from stdin are masked before they are spooled, and so is the copy on stdout", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using push = shipper(
      [
        "push",
        ...[
          "--server",
          server.url,
          "--job",
          "piped",
          "--step",
          "s",
          "--spool",
          spool.path,
          "--mask-env",
          "TOKEN",
        ],
      ],
      { stdin: "pipe", env: { TOKEN } },
    );
    const stdin = push.proc.stdin as import("bun").FileSink;
    stdin.write(`curl -H "Authorization: Bearer ${TOKEN}"\nok\n`);
    await stdin.end();
    expect(await push.result()).toEqual({
      code: 0,
      stdout: 'curl -H "Authorization: Bearer ***"\nok\n',
      stderr: "",
    });
    expect((await jobLines(server.url, "piped")).map((l) => l.line)).toEqual([
      'curl -H "Authorization: Bearer ***"',
      "ok",
    ]);
  });
});

describe("stroem-logs run --mask-file", () => {
  test("each line of a multi-line secret file is masked, and the whole file in its encodings", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    const key =
      "-----BEGIN TEST KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\nAASCBKcwggSjAgEAAoIBAQC7\n-----END TEST KEY-----\n";
    const file = join(spool.path, "key.pem");
    writeFileSync(file, key);
    const script = `const k = require("node:fs").readFileSync(${JSON.stringify(file)}, "utf8");
      process.stdout.write(k + JSON.stringify({ key: k }) + "\\n" + Buffer.from(k).toString("base64") + "\\n");`;
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "pem", "--step", "s", "--spool", spool.path, "--quiet"],
      ...["--mask-file", file, "--", BUN, "-e", script],
    ]);
    expect(await run.result()).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await jobLines(server.url, "pem")).map((l) => l.line)).toEqual([
      "***",
      "***",
      "***",
      "***",
      '{"key":"***"}',
      "***",
    ]);
    const stored = readFileSync(join(server.dir, "pem.jsonl"));
    expect(key.split("\n").filter((l) => l.length > 0 && stored.includes(l))).toEqual([]);
  });
});
