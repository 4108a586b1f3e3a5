// `stroem-logs tail` as a real child process: pretty and raw output, exit codes by job status, reconnect across a server kill.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { pipedToHead } from "../support/pipe.ts";
import { MAIN, spawnServer } from "../support/process.ts";
import { makeLines, startTestServer, tempDir } from "../support/server.ts";
import { DEADLINE_MS } from "../support/wait.ts";

interface Tail {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** stdout so far. */
  out(): string;
  /** Resolves once stdout holds at least `n` lines; rejects loudly after `timeoutMs`. */
  waitLines(n: number, timeoutMs?: number): Promise<void>;
  /** Waits for exit (bounded) and returns code, stdout and stderr. */
  done(timeoutMs?: number): Promise<{ code: number; out: string; err: string }>;
  [Symbol.asyncDispose](): Promise<void>;
}

function spawnTail(args: string[]): Tail {
  const proc = Bun.spawn([process.execPath, MAIN, "tail", ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  let lines = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const pump = async (stream: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  };
  const outDone = pump(proc.stdout, (t) => {
    out += t;
    for (let i = t.indexOf("\n"); i !== -1; i = t.indexOf("\n", i + 1)) lines++;
    for (let i = waiters.length - 1; i >= 0; i--)
      if (lines >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve();
  });
  const errDone = pump(proc.stderr, (t) => {
    err += t;
  });
  const bounded = <T>(what: string, p: Promise<T>, ms: number) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`timed out after ${ms} ms waiting for ${what}\nstdout: ${out}\nstderr: ${err}`)),
          ms,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  };
  return {
    proc,
    out: () => out,
    waitLines(n, timeoutMs = DEADLINE_MS) {
      if (lines >= n) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ n, resolve });
      return bounded(`${n} lines from tail`, promise, timeoutMs);
    },
    async done(timeoutMs = DEADLINE_MS) {
      const code = await bounded("tail to exit", proc.exited, timeoutMs);
      await Promise.all([outDone, errDone]);
      return { code, out, err };
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

const post = (base: string, path: string, body: unknown) =>
  fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("tail", () => {
  test("prints the log as cat does and exits 0 when the job completes", async () => {
    await using s = await startTestServer();
    await s.post("/worker/jobs/j/logs", {
      step_name: "build",
      lines: [
        { ts: "2025-02-12T10:56:45.123Z", stream: "stdout", line: "compiling" },
        { ts: "2025-02-12T10:56:46.456Z", stream: "stderr", line: "warning: x" },
      ],
    });
    await using t = spawnTail(["j", "--server", s.url]);
    await t.waitLines(2);
    await s.post("/worker/jobs/j/logs", {
      step_name: "test",
      lines: [{ ts: "2025-02-12T10:56:47.000Z", stream: "stdout", line: "ok" }],
    });
    await t.waitLines(3);
    await s.post("/worker/jobs/j/complete", { status: "completed" });
    expect(await t.done()).toEqual({
      code: 0,
      out: "2025-02-12T10:56:45.123Z  build  compiling\n2025-02-12T10:56:46.456Z  build  warning: x\n2025-02-12T10:56:47.000Z  test  ok\n",
      err: "",
    });
  });

  test("exits 1 for a failed or cancelled job, 0 for a skipped one; --raw prints the stored lines", async () => {
    await using s = await startTestServer();
    const results = [];
    for (const status of ["failed", "cancelled", "skipped"]) {
      await s.post(`/worker/jobs/${status}/logs`, { step_name: "s", lines: makeLines(2) });
      await s.post(`/worker/jobs/${status}/complete`, { status });
      await using t = spawnTail([status, "--server", s.url, "--raw"]);
      results.push(await t.done());
    }
    const file = (id: string) => Bun.file(join(s.dir, `${id}.jsonl`)).text();
    expect(results).toEqual([
      { code: 1, out: await file("failed"), err: "stroem-logs tail: job failed failed\n" },
      { code: 1, out: await file("cancelled"), err: "stroem-logs tail: job cancelled cancelled\n" },
      { code: 0, out: await file("skipped"), err: "stroem-logs tail: job skipped skipped\n" },
    ]);
  });

  test("tail of a live job piped into a reader that closes after one line exits at once, quietly", async () => {
    await using s = await startTestServer();
    // ~5 MB of backfill, far more than a pipe holds; the job stays running, so only the closed pipe ends tail.
    for (let b = 0; b < 50; b++)
      await s.post("/worker/jobs/live/logs", {
        step_name: "s",
        lines: makeLines(1000, "l", "stdout", b * 1000),
      });
    expect(await pipedToHead(["tail", "live", "--raw", "--server", s.url])).toEqual({
      head: `${(await Bun.file(join(s.dir, "live.jsonl")).text()).split("\n")[0]}\n`,
      code: 141, // 128 + SIGPIPE, as the shell reports a tool ended by a closed pipe
      stderr: "",
    });
  });

  test("a refused stream exits 1 with the server's message; bad flags exit 2", async () => {
    await using s = await startTestServer();
    await using bad = spawnTail(["no/such", "--server", s.url]);
    await using usage = spawnTail(["j", "--from", "x", "--server", s.url]);
    expect([await bad.done(), await usage.done()]).toEqual([
      {
        code: 1,
        out: "",
        err: 'stroem-logs tail: server answered 400: invalid job id "no/such": expected a UUID or [A-Za-z0-9][A-Za-z0-9._-]{0,127}\n',
      },
      { code: 2, out: "", err: "stroem-logs tail: --from: expected a non-negative integer (got x)\n" },
    ]);
  });

  test("tail sends its --token: a read token streams, none is refused with the server's 401", async () => {
    await using s = await startTestServer({ auth: { worker_token: "w-secret", read_tokens: ["r-secret"] } });
    await s.post(
      "/worker/jobs/j/logs",
      { step_name: "s", lines: makeLines(2) },
      { authorization: "Bearer w-secret" },
    );
    await s.post("/worker/jobs/j/complete", { status: "completed" }, { authorization: "Bearer w-secret" });
    await using ok = spawnTail(["j", "--server", s.url, "--raw", "--token", "r-secret"]);
    await using anonymous = spawnTail(["j", "--server", s.url, "--raw"]);
    const [a, b] = [await ok.done(), await anonymous.done()];
    expect([
      a,
      { code: b.code, out: b.out, err: b.err.startsWith("stroem-logs tail: server answered 401") },
    ]).toEqual([
      { code: 0, out: await Bun.file(join(s.dir, "j.jsonl")).text(), err: "" },
      { code: 1, out: "", err: true },
    ]);
  });

  test("after the server is killed and restarted on the same port, tail resumes with no line lost or repeated", async () => {
    using dir = tempDir();
    const first = await spawnServer({}, { dir: dir.path });
    const port = new URL(first.url).port;
    await post(first.url, "/worker/jobs/r/logs", { step_name: "build", lines: makeLines(300, "a") });
    await post(first.url, "/worker/jobs/r/logs", { step_name: "other", lines: makeLines(100, "o") });
    await using all = spawnTail(["r", "--server", first.url, "--raw"]);
    await using build = spawnTail(["r", "--server", first.url, "--raw", "--step", "build"]);
    await Promise.all([all.waitLines(400), build.waitLines(300)]);
    await first.stop("SIGKILL"); // the connections drop without a close frame
    await first[Symbol.asyncDispose]();
    await using second = await spawnServer({ server: { listen: `127.0.0.1:${port}` } }, { dir: dir.path });
    await post(second.url, "/worker/jobs/r/logs", { step_name: "build", lines: makeLines(200, "b") });
    await post(second.url, "/worker/jobs/r/logs", { step_name: "other", lines: makeLines(50, "o2") });
    await Promise.all([all.waitLines(650), build.waitLines(500)]);
    await post(second.url, "/worker/jobs/r/complete", { status: "completed" });
    const [a, b] = await Promise.all([all.done(), build.done()]);
    const file = await Bun.file(join(dir.path, "logs", "r.jsonl")).text();
    const buildOnly = file
      .split("\n")
      .filter((l) => l.includes('"step":"build"'))
      .map((l) => `${l}\n`)
      .join("");
    expect({
      codes: [a.code, b.code],
      all: a.out === file,
      build: b.out === buildOnly,
      lines: [a.out.split("\n").length - 1, b.out.split("\n").length - 1],
      reconnected: [
        a.err.includes("reconnecting from line 400"),
        b.err.includes("reconnecting from line 0 (skipping 300 seen)"),
      ],
    }).toEqual({ codes: [0, 0], all: true, build: true, lines: [650, 500], reconnected: [true, true] });
  }, 60_000);
});
