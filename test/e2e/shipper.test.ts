import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, tempDir } from "../support/server.ts";
import { DEADLINE_MS, untilEvent } from "../support/wait.ts";
import { BUN, freePort, jobLines, lineCount, shipper } from "./shipper-helpers.ts";

const texts = (lines: { line: string }[]) => lines.map((l) => l.line);
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("stroem-logs run", () => {
  test("100,000 lines on each of stdout and stderr arrive complete and in order per stream", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    const gen = `
      const fs = require("node:fs");
      let out = "", err = "";
      for (let i = 0; i < 100000; i++) {
        out += "out " + i + " " + "x".repeat(i % 50) + "\\n";
        err += "err " + i + "\\n";
        if (out.length > 16000) { fs.writeSync(1, out); out = ""; }
        if (err.length > 4000) { fs.writeSync(2, err); err = ""; }
      }
      fs.writeSync(1, out); fs.writeSync(2, err);`;
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "big", "--step", "gen", "--spool", spool.path, "--quiet"],
      "--",
      ...[BUN, "-e", gen],
    ]);
    expect(await run.result()).toEqual({ code: 0, stdout: "", stderr: "" });
    const lines = await jobLines(server.url, "big");
    const of = (stream: string) => lines.filter((l) => l.stream === stream);
    expect({
      stdout: texts(of("stdout")),
      stderr: texts(of("stderr")),
      steps: [...new Set(lines.map((l) => l.step))],
    }).toEqual({
      stdout: Array.from({ length: 100_000 }, (_, i) => `out ${i} ${"x".repeat(i % 50)}`),
      stderr: Array.from({ length: 100_000 }, (_, i) => `err ${i}`),
      steps: ["gen"],
    });
    // Stamped when read: valid, and never going back in time within a stream.
    for (const stream of ["stdout", "stderr"]) {
      const ts = of(stream).map((l) => l.ts);
      expect(ts.every((t, i) => ISO_MS.test(t) && (i === 0 || t >= ts[i - 1]!))).toBe(true);
    }
  });

  test("the command's output is echoed to the terminal, stdout to stdout and stderr to stderr", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "echo", "--step", "s", "--spool", spool.path],
      "--",
      ...["sh", "-c", "echo out; echo err >&2"],
    ]);
    expect(await run.result()).toEqual({ code: 0, stdout: "out\n", stderr: "err\n" });
    expect((await jobLines(server.url, "echo")).map((l) => [l.stream, l.line]).sort()).toEqual([
      ["stderr", "err"],
      ["stdout", "out"],
    ]);
  });

  test("the exit code of the command is passed through, and 128+N when a signal killed it", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    const codes: number[] = [];
    for (const script of ["exit 0", "exit 7", "kill -KILL $$", "kill -TERM $$"]) {
      await using run = shipper([
        "run",
        ...["--server", server.url, "--job", "codes", "--step", "s", "--spool", spool.path],
        "--",
        ...["sh", "-c", script],
      ]);
      codes.push(await run.exited);
    }
    expect(codes).toEqual([0, 7, 137, 143]);
  });

  test("SIGTERM and SIGINT are forwarded to the command; its last words are delivered", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    const common = ["--server", server.url, "--step", "s", "--spool", spool.path];
    // A command that handles the signal itself, and one that dies of it.
    await using trapped = shipper([
      "run",
      ...common,
      ...["--job", "sig-trap", "--"],
      ...["sh", "-c", 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.05; done'],
    ]);
    await using killed = shipper([
      "run",
      ...common,
      ...["--job", "sig-int", "--"],
      ...["sh", "-c", "echo ready; exec sleep 30"],
    ]);
    await trapped.waitStdout(/ready/);
    await killed.waitStdout(/ready/);
    trapped.proc.kill("SIGTERM");
    killed.proc.kill("SIGINT");
    expect([await trapped.exited, await killed.exited]).toEqual([42, 130]);
    expect([
      texts(await jobLines(server.url, "sig-trap")),
      texts(await jobLines(server.url, "sig-int")),
    ]).toEqual([["ready", "got TERM"], ["ready"]]);
  });

  test("a command that cannot be found exits 127 with a message naming it", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "nf", "--step", "s", "--spool", spool.path],
      "--",
      "no-such-command-xyz",
    ]);
    const r = await run.result();
    expect({ code: r.code, named: r.stderr.includes("cannot run no-such-command-xyz") }).toEqual({
      code: 127,
      named: true,
    });
  });

  test("binary garbage on stdout arrives as lines with U+FFFD in place of invalid bytes, nothing lost", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    const bytes = new Uint8Array(300_000);
    crypto.getRandomValues(bytes);
    const file = join(spool.path, "garbage.bin");
    writeFileSync(file, bytes);
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "garbage", "--step", "s", "--spool", spool.path, "--quiet"],
      "--",
      ...["cat", file],
    ]);
    expect(await run.exited).toBe(0);
    const expected = new TextDecoder().decode(bytes).split(/\r\n|\r|\n/);
    if (expected.at(-1) === "") expected.pop();
    expect(texts(await jobLines(server.url, "garbage"))).toEqual(expected);
  });

  test("a 5 MB single line arrives whole, as consecutive pieces of at most 1 MiB cut between characters", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    const line = "aø€".repeat(5_000_000 / 6); // 6 bytes per repeat, pieces cannot cut evenly
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "long", "--step", "s", "--spool", spool.path, "--quiet"],
      "--",
      ...[BUN, "-e", `require("node:fs").writeSync(1, "aø€".repeat(${5_000_000 / 6}) + "\\n")`],
    ]);
    expect(await run.result()).toEqual({ code: 0, stdout: "", stderr: "" });
    const pieces = texts(await jobLines(server.url, "long"));
    expect({
      count: pieces.length,
      whole: pieces.join("") === line,
      sizes: pieces.map((p) => Buffer.byteLength(p) <= 1024 * 1024),
    }).toEqual({ count: 5, whole: true, sizes: [true, true, true, true, true] });
  });

  test("output without a newline is shipped after a short wait rather than held until the command ends", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    const go = join(spool.path, "go");
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "nonl", "--step", "s", "--spool", spool.path],
      "--",
      ...["sh", "-c", `printf waiting; while [ ! -e ${go} ]; do sleep 0.02; done; printf ' done'`],
    ]);
    await untilEvent(
      server.events,
      "appended",
      "the unfinished line on the server",
      async () => (await lineCount(server.url, "nonl")) === 1,
      DEADLINE_MS,
    );
    writeFileSync(go, "");
    expect(await run.exited).toBe(0);
    expect(texts(await jobLines(server.url, "nonl"))).toEqual(["waiting", " done"]);
  });

  test("carriage-return progress bars become one line per update", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "cr", "--step", "s", "--spool", spool.path, "--quiet"],
      "--",
      ...["printf", "0%%\\r50%%\\r100%%\\r\\ndone\\r\\n"],
    ]);
    expect(await run.exited).toBe(0);
    expect(texts(await jobLines(server.url, "cr"))).toEqual(["0%", "50%", "100%", "done"]);
  });

  test("--complete ends the job as completed on exit 0 and failed otherwise, once every line is delivered", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    for (const [job, script] of [
      ["ok-job", "echo fine"],
      ["bad-job", "echo broken; exit 3"],
    ] as const) {
      await using run = shipper([
        "run",
        ...[
          "--server",
          server.url,
          "--job",
          job,
          "--step",
          "s",
          "--spool",
          spool.path,
          "--complete",
          "--quiet",
        ],
        "--",
        ...["sh", "-c", script],
      ]);
      await run.exited;
    }
    const show = async (job: string) => {
      const j = (await (await server.fetch(`/api/jobs/${job}`)).json()) as {
        status: string;
        error: string | null;
        lines: number;
      };
      return { status: j.status, error: j.error, lines: j.lines };
    };
    expect([await show("ok-job"), await show("bad-job")]).toEqual([
      { status: "completed", error: null, lines: 1 },
      { status: "failed", error: "exit code 3", lines: 1 },
    ]);
  });

  test("a full spool keeps the oldest lines, and the server is told how many were dropped once it answers", async () => {
    using spool = tempDir();
    const port = freePort();
    const record = '{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","line":"line 00"}\n'.length;
    await using run = shipper([
      "run",
      ...["--server", `http://127.0.0.1:${port}`, "--job", "full", "--step", "s", "--spool", spool.path],
      ...["--spool-max", String(record * 10), "--retry-max", "200ms"],
      "--",
      ...["sh", "-c", 'i=10; while [ $i -lt 50 ]; do echo "line $i"; i=$((i+1)); done'],
    ]);
    await run.waitStdout(/line 49\n/);
    await run.waitStderr(/cannot deliver/);
    await using server = await startTestServer({ server: { listen: `127.0.0.1:${port}` } });
    const r = await run.result();
    const lines = await jobLines(server.url, "full");
    expect({
      code: r.code,
      kept: texts(lines.filter((l) => l.step === "s")),
      events: texts(lines.filter((l) => l.step === "_server")).map((t) =>
        t.replace(/ on \S+:/, " on HOST:").replace(/spool \S+ reached/, "spool DIR reached"),
      ),
      stderr: r.stderr.includes("30 lines were dropped"),
    }).toEqual({
      code: 125,
      kept: Array.from({ length: 10 }, (_, i) => `line ${i + 10}`),
      events: [
        `stroem-logs on HOST: 30 lines of step s were dropped: the spool DIR reached --spool-max ${record * 10} bytes while the server could not be reached`,
      ],
      stderr: true,
    });
  });

  test("a refused token stops delivery without losing a line; push with the right token delivers the rest", async () => {
    await using server = await startTestServer({ auth: { worker_token: "right" } });
    using spool = tempDir();
    const args = ["--server", server.url, "--job", "auth", "--step", "s", "--spool", spool.path, "--quiet"];
    await using run = shipper(["run", ...args, "--token", "wrong", "--", "sh", "-c", "echo one; echo two"]);
    const r = await run.result();
    // The summary at exit counts every line; the message at the refusal counts what was read by then (on a busy
    // machine "two" may come after the first push was refused).
    const said = /2 lines not delivered \(server answered 403[^\n]*they stay in the spool/.test(r.stderr);
    expect({ code: r.code, said, stopped: /server answered 403.*delivery stopped/s.test(r.stderr) }).toEqual({
      code: 125,
      said: true,
      stopped: true,
    });
    await using push = shipper(["push", ...args], { env: { STROEM_TOKEN: "right" } });
    expect((await push.result()).code).toBe(0);
    const read = await jobLines(server.url, "auth", { authorization: "Bearer right" });
    expect(texts(read)).toEqual(["one", "two"]);
    expect(existsSync(join(spool.path, "auth"))).toBe(false);
  });

  test("a background process left holding the output does not keep the shipper waiting after the command ended", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "bg", "--step", "s", "--spool", spool.path, "--quiet"],
      "--",
      ...["sh", "-c", "sleep 5 & echo started"],
    ]);
    const r = await run.result();
    expect({ code: r.code, said: r.stderr.includes("exited but its output is still open") }).toEqual({
      code: 0,
      said: true,
    });
    expect(texts(await jobLines(server.url, "bg"))).toEqual(["started"]);
  });

  test("usage errors exit 2 before anything runs", async () => {
    const results = [];
    for (const args of [
      ["run", "--step", "s", "--", "true"],
      ["run", "--job", "../etc", "--step", "s", "--", "true"],
      ["run", "--job", "j", "--step", "_server", "--", "true"],
      ["run", "--job", "j", "--step", "s"],
      ["push", "--job", "j", "--step", "s", "--stream", "both"],
      ["run", "--job", "j", "--step", "s", "--flush-interval", "soon", "--", "true"],
    ]) {
      await using p = shipper(args);
      results.push((await p.result()).code);
    }
    expect(results).toEqual([2, 2, 2, 2, 2, 2]);
  });
});

describe("stroem-logs push", () => {
  test("SIGTERM ends the input of push; what it read is delivered", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using push = shipper(
      ["push", "--server", server.url, "--job", "push-term", "--step", "s", "--spool", spool.path, "--quiet"],
      { stdin: "pipe" },
    );
    const stdin = push.proc.stdin as import("bun").FileSink;
    stdin.write("before the signal\n");
    await stdin.flush();
    await untilEvent(
      server.events,
      "appended",
      "the line on the server",
      async () => (await lineCount(server.url, "push-term")) === 1,
      DEADLINE_MS,
    );
    push.proc.kill("SIGTERM");
    expect((await push.result()).code).toBe(0);
    expect(texts(await jobLines(server.url, "push-term"))).toEqual(["before the signal"]);
  });

  test("the lines of stdin are shipped to the chosen stream, an unterminated last line included", async () => {
    await using server = await startTestServer();
    using spool = tempDir();
    await using push = shipper(
      [
        "push",
        "--server",
        server.url,
        "--job",
        "piped",
        "--step",
        "make",
        "--stream",
        "stderr",
        "--spool",
        spool.path,
        "--quiet",
      ],
      { stdin: "pipe" },
    );
    const stdin = push.proc.stdin as import("bun").FileSink;
    // No unfinished line across the wait: one older than 1 s is shipped on its own (a busy machine may take
    // that long to show the first line), and a line cut across reads is tested in test/shipper/lines.test.ts.
    stdin.write("compiling a\n");
    await stdin.flush();
    await untilEvent(
      server.events,
      "appended",
      "the first line on the server",
      async () => (await lineCount(server.url, "piped")) === 1,
      DEADLINE_MS,
    );
    stdin.write("compiling b\nlinking");
    await stdin.end();
    expect(await push.result()).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await jobLines(server.url, "piped")).map((l) => [l.stream, l.step, l.line])).toEqual([
      ["stderr", "make", "compiling a"],
      ["stderr", "make", "compiling b"],
      ["stderr", "make", "linking"],
    ]);
  });
});
