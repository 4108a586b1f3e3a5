// Refusals the shipper must handle without looping: 413s cured by splitting, 413s that splitting cannot
// cure (a line over the body limit, a job past its cap), and a bound on the request rate whatever the answer.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { FileSink } from "bun";
import { spoolDirOf } from "../../src/shipper/spool.ts";
import { makeLines, startTestServer, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import { freePort, jobLines, replyDroppingProxy, shipper } from "./shipper-helpers.ts";

/** The most of `times` (ms) that fall within any one second. */
function perSecondPeak(times: number[]): number {
  const t = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= 1000) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
}

async function pushText(args: string[], text: string) {
  const push = shipper(["push", ...args], { stdin: "pipe" });
  const stdin = push.proc.stdin as FileSink;
  stdin.write(text);
  await stdin.end();
  return push;
}

describe("shipper refusals", () => {
  test("a server whose bodies are limited to 16 KiB gets smaller batches after a few 413s, and every line", async () => {
    await using server = await startTestServer({ limits: { max_body_bytes: "16KiB" } });
    using spool = tempDir();
    using proxy = replyDroppingProxy(server.url);
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${"x".repeat(80)}`);
    const args = ["--server", proxy.url, "--job", "small", "--step", "s", "--spool", spool.path, "--quiet"];
    await using push = await pushText([...args, "--drain-timeout", "20s"], `${lines.join("\n")}\n`);
    const r = await push.result();
    const refused = proxy.replies.filter((x) => x.status === 413);
    expect({
      code: r.code,
      stored: (await jobLines(server.url, "small")).map((l) => l.line),
      fewRefusals: refused.length <= 8,
      peak: perSecondPeak(refused.map((x) => x.at)) <= 4,
    }).toEqual({ code: 0, stored: lines, fewRefusals: true, peak: true });
  }, 60_000);

  test("a line larger than the server's body limit stops delivery: an event and the exit name it, the lines wait in the spool", async () => {
    using logs = tempDir();
    using spool = tempDir();
    const port = freePort();
    const big = "y".repeat(20_000);
    const args = ["--job", "big", "--step", "s", "--spool", spool.path, "--quiet"];
    {
      await using server = await startTestServer(
        { server: { listen: `127.0.0.1:${port}` }, limits: { max_body_bytes: "16KiB" } },
        { dir: logs.path },
      );
      using proxy = replyDroppingProxy(server.url);
      await using push = await pushText(["--server", proxy.url, ...args], `before\n${big}\nafter\n`);
      const r = await push.result();
      const stored = await jobLines(server.url, "big");
      expect({
        code: r.code,
        said: /single line of 20\d\d\d bytes .*413 body_too_large.*limits\.max_body_bytes 16384.*delivery stopped, 2 lines stay in the spool/s.test(
          r.stderr,
        ),
        stored: stored.map((l) => (l.step === "_server" ? l.line.replace(/ on \S+:/, " on HOST:") : l.line)),
        pushes: proxy.replies.filter((x) => x.request.endsWith("/logs")).length,
        spooled: existsSync(spoolDirOf(spool.path, "big", "s")),
      }).toEqual({
        code: 1,
        said: true,
        stored: [
          "before",
          expect.stringMatching(
            /^stroem-logs on HOST: delivery of step s stopped: the server refused a single line of 20\d\d\d bytes \(413 body_too_large: .*max_body_bytes 16384.*\); the lines not delivered stay in the spool /,
          ) as unknown as string,
        ],
        pushes: 3, // all three lines, then "before" alone, then the big line alone
        spooled: true,
      });
    }
    // Once the server takes larger bodies, a push delivers what waited, in order.
    await using server = await startTestServer(
      { server: { listen: `127.0.0.1:${port}` } },
      { dir: logs.path },
    );
    await using resume = shipper(["push", "--server", server.url, ...args]);
    expect((await resume.result()).code).toBe(0);
    const lines = (await jobLines(server.url, "big")).filter((l) => l.step === "s").map((l) => l.line);
    expect(lines).toEqual(["before", big, "after"]);
  }, 60_000);

  test("a late push to a job past max_job_bytes (413 job_too_large) stops at once: one request, an event, an exit naming it", async () => {
    await using server = await startTestServer({ limits: { max_job_bytes: "64KiB" } });
    for (let b = 0; b < 60; b++) {
      const r = await server.post("/worker/jobs/capped/logs", {
        step_name: "s",
        lines: makeLines(10, `${"z".repeat(90)}-${b}`),
      });
      expect(r.status).toBe(200);
    }
    expect((await server.post("/worker/jobs/capped/complete", { status: "completed" })).status).toBe(200);
    await waitFor(
      "the capped job to settle",
      async () => ((await (await server.fetch("/api/jobs/capped")).json()) as { settled: boolean }).settled,
    );
    using spool = tempDir();
    using proxy = replyDroppingProxy(server.url);
    const late = Array.from({ length: 200 }, (_, i) => `late ${i} ${"w".repeat(200)}`);
    const args = ["--server", proxy.url, "--job", "capped", "--step", "s", "--spool", spool.path, "--quiet"];
    await using push = await pushText(args, `${late.join("\n")}\n`);
    const r = await push.result();
    const events = (await jobLines(server.url, "capped"))
      .filter((l) => l.step === "_server")
      .map((l) => l.line);
    expect({
      code: r.code,
      said: /413 job_too_large.*limits\.max_job_bytes 65536.*delivery stopped, 200 lines stay in the spool/s.test(
        r.stderr,
      ),
      event: events.some((e) => /delivery of step s stopped: .*413 job_too_large/.test(e)),
      pushes: proxy.replies.filter((x) => x.request.endsWith("/logs")).length,
    }).toEqual({ code: 1, said: true, event: true, pushes: 1 });
  }, 60_000);

  test("whatever a server answers, a shipper sends at most a few requests a second", async () => {
    const answers: Array<{ status: number; code: string; headers?: Record<string, string> }> = [
      { status: 400, code: "invalid_body" },
      { status: 404, code: "not_found" },
      { status: 413, code: "body_too_large" },
      { status: 413, code: "job_too_large" },
      { status: 429, code: "too_many", headers: { "retry-after": "0" } },
      { status: 500, code: "internal" },
      { status: 503, code: "unavailable", headers: { "retry-after": "0" } },
    ];
    const runs = answers.map(async (answer) => {
      const times: number[] = [];
      using stub = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () => {
          times.push(Date.now());
          return Response.json(
            { error: "refused", code: answer.code },
            { status: answer.status, headers: answer.headers ?? {} },
          );
        },
      });
      using spool = tempDir();
      await using run = shipper([
        "run",
        ...["--server", `http://127.0.0.1:${stub.port}`, "--job", "j", "--step", "s", "--spool", spool.path],
        ...["--quiet", "--retry-max", "100ms", "--drain-timeout", "1s"],
        "--",
        ...["sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); sleep 0.03; done"],
      ]);
      await run.result();
      return { answer: `${answer.status} ${answer.code}`, peak: perSecondPeak(times) };
    });
    const results = await Promise.all(runs);
    console.log(`requests in the busiest second: ${results.map((r) => `${r.answer} ${r.peak}`).join(", ")}`);
    expect(results.filter((r) => r.peak > 5)).toEqual([]);
  }, 60_000);
});
