import { expect, test } from "bun:test";
import { join } from "node:path";
import { spoolDirOf } from "../../src/shipper/spool.ts";
import { startTestServer, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import {
  freePort,
  jobLines,
  lineCount,
  pacedPrinter,
  replyDroppingProxy,
  shipper,
} from "./shipper-helpers.ts";

const lastEchoed = (stdout: string): number => {
  const all = [...stdout.matchAll(/^line (\d+)$/gm)];
  return Number(all.at(-1)![1]);
};

test("kill -9 of the shipper with a batch the server wrote but never acknowledged: a new push delivers the spool exactly once", async () => {
  await using server = await startTestServer();
  using spool = tempDir();
  using proxy = replyDroppingProxy(server.url);
  const args = ["--job", "crash", "--step", "s", "--spool", spool.path];
  await using run = shipper([
    "run",
    ...["--server", proxy.url, ...args, "--retry-max", "200ms"],
    "--",
    ...pacedPrinter(join(spool.path, "never"), 5, 2),
  ]);
  await waitFor(
    "lines before the replies are lost",
    async () => (await lineCount(server.url, "crash")) >= 500,
  );
  proxy.swallow = () => true;
  // The server has written the pending batch at least once, and its retry too was answered into the void.
  await waitFor("two swallowed replies", () => proxy.swallowed >= 2);
  await run.waitStdout(/line \d+\n/);
  run.proc.kill("SIGKILL");
  await run.exited;
  const echoed = lastEchoed(run.stdout()); // echoed only after it was spooled

  proxy.swallow = () => false;
  const duplicatesBefore = proxy.duplicates;
  await using push = shipper(["push", "--server", proxy.url, ...args, "--quiet"]);
  const r = await push.result();
  expect({ code: r.code, resumed: /\d+ lines left in the spool .* are sent first/.test(r.stderr) }).toEqual({
    code: 0,
    resumed: true,
  });
  expect(proxy.duplicates).toBeGreaterThan(duplicatesBefore);
  const got = (await jobLines(server.url, "crash")).map((l) => l.line);
  expect(got).toEqual(Array.from({ length: got.length }, (_, i) => `line ${i}`));
  expect(got.length).toBeGreaterThan(echoed);
});

test("kill -9 of push while the server is down: a later run of the same step sends the spooled lines first", async () => {
  using spool = tempDir();
  const port = freePort();
  const args = ["--job", "crash-2", "--step", "s", "--spool", spool.path, "--quiet"];
  await using push = shipper(
    ["push", "--server", `http://127.0.0.1:${port}`, ...args, "--retry-max", "100ms"],
    {
      stdin: "pipe",
    },
  );
  const stdin = push.proc.stdin as import("bun").FileSink;
  stdin.write("one\ntwo\nthree\n");
  await stdin.flush();
  await push.waitStderr(/cannot deliver/);
  push.proc.kill("SIGKILL");
  await push.exited;

  await using server = await startTestServer({ server: { listen: `127.0.0.1:${port}` } });
  await using run = shipper(["run", "--server", server.url, ...args, "--", "echo", "four"]);
  expect((await run.result()).code).toBe(0);
  expect((await jobLines(server.url, "crash-2")).map((l) => l.line)).toEqual(["one", "two", "three", "four"]);
});

test("a spool held by a live shipper is refused naming its pid; after its kill -9, push takes it over though its pid went to another process", async () => {
  await using server = await startTestServer();
  using spool = tempDir();
  const args = ["--server", server.url, "--job", "locked", "--step", "s", "--spool", spool.path, "--quiet"];
  await using first = shipper(["push", ...args.slice(0, -1)], { stdin: "pipe" }); // echoes what it spooled
  const stdin = first.proc.stdin as import("bun").FileSink;
  stdin.write("one\ntwo\n");
  await stdin.flush();
  await waitFor("the first lines delivered", async () => (await lineCount(server.url, "locked")) === 2);

  await using second = shipper(["push", ...args]);
  const refused = await second.result();
  expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({
    code: 1,
    stderr: expect.stringMatching(
      new RegExp(`^stroem-logs push: spool .* is in use by another stroem-logs \\(pid ${first.proc.pid}\\)$`),
    ) as unknown as string,
  });

  // The first one spools a line it cannot send, then dies; its pid now names a live, unrelated process.
  stdin.write("three\n");
  await stdin.flush();
  await first.waitStdout(/three\n/);
  first.proc.kill("SIGKILL");
  await first.exited;
  const unrelated = Bun.spawn(["sleep", "60"]);
  try {
    await Bun.write(join(spoolDirOf(spool.path, "locked", "s"), "lock"), `${unrelated.pid}\n`);
    await using resume = shipper(["push", ...args]);
    expect((await resume.result()).code).toBe(0);
  } finally {
    unrelated.kill("SIGKILL");
    await unrelated.exited;
  }
  expect((await jobLines(server.url, "locked")).map((l) => l.line)).toEqual(["one", "two", "three"]);
});
