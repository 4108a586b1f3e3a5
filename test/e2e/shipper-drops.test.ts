// The shipper's "lines dropped" report: every distinct loss recorded once, a retried report only once.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { startTestServer, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import { freePort, jobLines, replyDroppingProxy, shipper } from "./shipper-helpers.ts";

const RECORD = '{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","line":"line 00"}\n'.length;

/** `run` with a spool of 10 records while the server is down: 40 lines printed, 30 dropped. */
async function dropThirty(spool: string, port: number, dir: string) {
  await using run = shipper([
    "run",
    ...["--server", `http://127.0.0.1:${port}`, "--job", "drops", "--step", "s", "--spool", spool],
    ...["--spool-max", String(RECORD * 10), "--retry-max", "200ms"],
    "--",
    ...["sh", "-c", 'i=10; while [ $i -lt 50 ]; do echo "line $i"; i=$((i+1)); done'],
  ]);
  await run.waitStdout(/line 49\n/);
  await run.waitStderr(/cannot deliver/);
  await using server = await startTestServer({ server: { listen: `127.0.0.1:${port}` } }, { dir });
  const r = await run.result();
  expect({ code: r.code, said: r.stderr.includes("30 lines were dropped") }).toEqual({
    code: 125,
    said: true,
  });
  return (await jobLines(server.url, "drops")).filter((l) => l.step === "_server").map((l) => l.line);
}

test("two runs of a step that each drop the same number of lines record two losses", async () => {
  using spool = tempDir();
  using logs = tempDir();
  const port = freePort();
  expect((await dropThirty(spool.path, port, logs.path)).length).toBe(1);
  const events = await dropThirty(spool.path, port, logs.path);
  const spoolDir = join(spool.path, "drops");
  expect(events.map((e) => e.replace(/ on \S+:/, " on HOST:").replace(`${spoolDir}/`, ""))).toEqual(
    Array.from(
      { length: 2 },
      () =>
        `stroem-logs on HOST: 30 lines of step s were dropped: the spool step-043a718774c572bd8a25adbe reached --spool-max ${RECORD * 10} bytes while the server could not be reached`,
    ),
  );
});

test("a loss report whose reply is lost is recorded once: retried under its key, also by a push after kill -9", async () => {
  using spool = tempDir();
  using logs = tempDir();
  const port = freePort();
  await using server = await startTestServer({ server: { listen: `127.0.0.1:${port}` } }, { dir: logs.path });
  // Every reply to a server event is swallowed: the shipper cannot know the loss was recorded.
  using proxy = replyDroppingProxy(server.url, (_, request) => request.endsWith("/events"));
  proxy.swallow = () => true; // the server is unreachable until the spool is full
  const args = ["--job", "drops", "--step", "s", "--spool", spool.path, "--retry-max", "100ms"];
  await using run = shipper([
    "run",
    ...["--server", proxy.url, ...args, "--spool-max", String(RECORD * 10)],
    "--",
    ...["sh", "-c", 'i=10; while [ $i -lt 50 ]; do echo "line $i"; i=$((i+1)); done; sleep 60'],
  ]);
  await run.waitStdout(/line 49\n/);
  proxy.swallow = (_, request) => request.endsWith("/events");
  await waitFor(
    "two swallowed replies to the loss report",
    () => proxy.replies.filter((r) => r.request.endsWith("/events")).length >= 2,
  );
  const command = childOf(run.proc.pid);
  run.proc.kill("SIGKILL");
  await run.exited;
  if (command !== null) process.kill(command, "SIGKILL");

  await using push = shipper(["push", "--server", server.url, ...args, "--quiet"]);
  expect((await push.result()).code).toBe(0);
  const lines = await jobLines(server.url, "drops");
  expect({
    kept: lines.filter((l) => l.step === "s").length,
    events: lines
      .filter((l) => l.step === "_server")
      .map((l) => /: (\d+) lines of step s were dropped/.exec(l.line)?.[1]),
  }).toEqual({ kept: 10, events: ["30"] });
});

/** The pid of a process's child (the command `run` started), or null. */
function childOf(pid: number): number | null {
  const text = Bun.spawnSync(["cat", `/proc/${pid}/task/${pid}/children`])
    .stdout.toString()
    .trim();
  return text === "" ? null : Number(text.split(" ")[0]);
}
