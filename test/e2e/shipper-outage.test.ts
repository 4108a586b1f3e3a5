import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnServer } from "../support/process.ts";
import { tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";
import { freePort, jobLines, lineCount, pacedPrinter, shipper } from "./shipper-helpers.ts";

const OUTAGE_MS = 10_000;

test("the server stopped for 10 s in the middle of a run and restarted in place: every line arrives exactly once", async () => {
  using dir = tempDir();
  using spool = tempDir();
  const port = freePort();
  const listen = { server: { listen: `127.0.0.1:${port}` } };
  const stop = join(spool.path, "stop");
  await using first = await spawnServer(listen, { dir: dir.path });
  await using run = shipper([
    "run",
    ...["--server", first.url, "--job", "outage", "--step", "s", "--spool", spool.path, "--quiet"],
    ...["--retry-max", "500ms"],
    "--",
    ...pacedPrinter(stop, 2, 5),
  ]);
  await waitFor("lines before the outage", async () => (await lineCount(first.url, "outage")) >= 200);
  expect(await first.stop()).toBe(0);
  await run.waitStderr(/cannot deliver/);
  const before = await jobLinesOffline(dir.path);
  // The outage itself is the scenario: the command keeps printing, the shipper spools and retries.
  await Bun.sleep(OUTAGE_MS);
  await using server = await spawnServer(listen, { dir: dir.path });
  await run.waitStderr(/delivery resumed after \d+\.\d s/);
  const resumedAt = await lineCount(server.url, "outage");
  await waitFor(
    "lines printed after the restart",
    async () => (await lineCount(server.url, "outage")) > resumedAt + 100,
  );
  writeFileSync(stop, "");
  expect(await run.exited).toBe(0);

  const got = (await jobLines(server.url, "outage")).map((l) => l.line);
  const printed = got.length - 1;
  expect(got).toEqual([...Array.from({ length: printed }, (_, i) => `line ${i}`), "last"]);
  // The run spanned the outage: lines from before it, and many printed while the server was away.
  expect({ before: before >= 200, during: printed > before + (OUTAGE_MS / 5) * 0.5 }).toEqual({
    before: true,
    during: true,
  });
}, 60_000);

/** Lines in the server's file while it is down: the JSONL file's newline count. */
async function jobLinesOffline(dir: string): Promise<number> {
  const text = await Bun.file(join(dir, "logs", "outage.jsonl")).text();
  return text.split("\n").length - 1;
}
