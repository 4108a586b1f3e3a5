import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, tempDir } from "../support/server.ts";
import { DEADLINE_MS, waitFor } from "../support/wait.ts";
import { jobLines, pacedPrinter, replyDroppingProxy, shipper } from "./shipper-helpers.ts";

test("replies lost after the server wrote the batch: the retries are recognised and no line is written twice", async () => {
  await using server = await startTestServer();
  using spool = tempDir();
  // Every third reply never reaches the shipper: its connection is closed instead.
  using proxy = replyDroppingProxy(server.url, (n) => n % 3 === 1);
  const stop = join(spool.path, "stop");
  await using run = shipper([
    "run",
    ...["--server", proxy.url, "--job", "lossy", "--step", "s", "--spool", spool.path, "--quiet"],
    ...["--retry-max", "200ms", "--flush-interval", "20ms"],
    "--",
    ...pacedPrinter(stop, 5, 2),
  ]);
  await waitFor(
    "replies swallowed and retries answered as duplicates",
    () => proxy.swallowed >= 10 && proxy.duplicates >= 5,
    DEADLINE_MS,
  );
  writeFileSync(stop, "");
  expect(await run.exited).toBe(0);
  const got = (await jobLines(server.url, "lossy")).map((l) => l.line);
  expect(got).toEqual([...Array.from({ length: got.length - 1 }, (_, i) => `line ${i}`), "last"]);
});

test("a reply cut off after its status line is an unknown outcome: the batch is resent under its key, delivery goes on", async () => {
  await using server = await startTestServer();
  using spool = tempDir();
  using proxy = replyDroppingProxy(server.url);
  // The first three replies arrive as a 200 whose body is cut off mid-way.
  proxy.truncate = (n) => n <= 3;
  const stop = join(spool.path, "stop");
  await using run = shipper([
    "run",
    ...["--server", proxy.url, "--job", "cut", "--step", "s", "--spool", spool.path, "--quiet"],
    ...["--retry-max", "200ms", "--flush-interval", "20ms"],
    "--",
    ...pacedPrinter(stop, 5, 2, 2000),
  ]);
  await waitFor(
    "three cut replies and a duplicate answer",
    () => proxy.truncated >= 3 && proxy.duplicates >= 1,
    DEADLINE_MS,
  );
  writeFileSync(stop, "");
  expect(await run.exited).toBe(0);
  const got = (await jobLines(server.url, "cut")).map((l) => l.line);
  expect(got).toEqual([...Array.from({ length: got.length - 1 }, (_, i) => `line ${i}`), "last"]);
}, 60_000);
