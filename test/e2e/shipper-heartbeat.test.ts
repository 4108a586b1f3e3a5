// A quiet step is not a dead one: `run` and `push` keep their job alive while they run; a killed shipper does not.
import { describe, expect, test } from "bun:test";
import type { FileSink } from "bun";
import { startTestServer, tempDir } from "../support/server.ts";
import { DEADLINE_MS, waitFor } from "../support/wait.ts";
import { jobLines, lineCount, shipper } from "./shipper-helpers.ts";

type JobView = {
  status: string;
  error: string | null;
  late_lines: number;
  finished_at: string | null;
  last_activity_at: string;
};

const RECOVERY = { recovery: { stale_after: "3s", sweep_interval: "100ms" } };

describe("heartbeats", () => {
  test("the heartbeat's answer tells recovery.stale_after, for a running job and for one with no line yet", async () => {
    await using server = await startTestServer(RECOVERY);
    await server.post("/worker/jobs/known/logs", {
      step_name: "s",
      lines: [{ stream: "stdout", line: "x" }],
    });
    const answers = [];
    for (const job of ["known", "unknown"]) {
      const res = await server.post(`/worker/jobs/${job}/heartbeat`, {});
      answers.push({
        status: res.status,
        staleAfter: res.headers.get("stroem-stale-after-ms"),
        body: await res.json(),
      });
    }
    expect(answers).toEqual([
      { status: 200, staleAfter: "3000", body: { status: "ok" } },
      { status: 404, staleAfter: "3000", body: { error: "job unknown not found", code: "not_found" } },
    ]);
  });

  test("with stale_after 3 s, a command silent for 8 s under run and a push fed nothing for as long keep their jobs running", async () => {
    await using server = await startTestServer(RECOVERY);
    using spool = tempDir();
    const show = async (job: string) => {
      const { status, error, late_lines } = (await (
        await server.fetch(`/api/jobs/${job}`)
      ).json()) as JobView;
      return { status, error, late_lines };
    };
    await using push = shipper(
      [
        "push",
        "--server",
        server.url,
        "--job",
        "quiet-push",
        "--step",
        "s",
        "--spool",
        spool.path,
        "--quiet",
      ],
      { stdin: "pipe" },
    );
    const stdin = push.proc.stdin as FileSink;
    stdin.write("start\n");
    await stdin.flush();
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "quiet-run", "--step", "s", "--spool", spool.path, "--complete"],
      "--",
      ...["bash", "-c", "echo start; sleep 8; echo end"],
    ]);
    const r = await run.result();
    // The push's job has been as quiet as the command, for as long: it must still be running too.
    const pushJob = await show("quiet-push");
    stdin.write("end\n");
    await stdin.end();
    expect((await push.result()).code).toBe(0);
    expect({
      run: { code: r.code, stderr: r.stderr, job: await show("quiet-run") },
      lines: (await jobLines(server.url, "quiet-run")).map((l) => `${l.step}: ${l.line}`),
      pushJob,
      pushLines: (await jobLines(server.url, "quiet-push")).map((l) => `${l.step}: ${l.line}`),
    }).toEqual({
      run: { code: 0, stderr: "", job: { status: "completed", error: null, late_lines: 0 } },
      lines: ["s: start", "s: end"],
      pushJob: { status: "running", error: null, late_lines: 0 },
      pushLines: ["s: start", "s: end"],
    });
  }, 60_000);

  test("a shipper killed with -9 beats no more: its job is failed once stale_after passed", async () => {
    await using server = await startTestServer(RECOVERY);
    using spool = tempDir();
    await using run = shipper([
      "run",
      ...["--server", server.url, "--job", "killed", "--step", "s", "--spool", spool.path, "--quiet"],
      "--",
      ...["bash", "-c", "echo start; exec sleep 30"],
    ]);
    await waitFor("the first line", async () => (await lineCount(server.url, "killed")) === 1);
    const command = childOf(run.proc.pid);
    run.proc.kill("SIGKILL");
    await run.exited;
    if (command !== null) process.kill(command, "SIGKILL");
    // The shipper's last touch of the job, as the server recorded it: once it is dead, nothing moves it on
    // (the failure's own event does, later). Measured from the kill instead, a beat that came late on a busy
    // machine made the job fail sooner after the kill, rightly.
    const lastTouch = Date.parse(
      ((await (await server.fetch("/api/jobs/killed")).json()) as JobView).last_activity_at,
    );
    const job = await waitFor(
      "the job of the killed shipper to be failed",
      async () => {
        const j = (await (await server.fetch("/api/jobs/killed")).json()) as JobView;
        return j.status === "failed" ? j : undefined;
      },
      DEADLINE_MS,
      50,
    );
    expect({ error: job.error, silentFor: Date.parse(job.finished_at!) - lastTouch >= 3000 }).toEqual({
      error: "no activity from workers for 3s",
      silentFor: true,
    });
  }, 60_000);
});

/** The pid of a process's child (the command `run` started), or null. */
function childOf(pid: number): number | null {
  const text = Bun.spawnSync(["cat", `/proc/${pid}/task/${pid}/children`])
    .stdout.toString()
    .trim();
  return text === "" ? null : Number(text.split(" ")[0]);
}
