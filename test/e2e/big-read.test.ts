// Reads of a 1 GB log stream with bounded memory: the server's RSS stays under 200 MB.
import { describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { drainCount, writeBigLog } from "../support/biglog.ts";
import { spawnServer } from "../support/process.ts";
import { tempDir } from "../support/server.ts";

/**
 * Seven passes over 1 GB (writing it, then reads of every kind): about a minute when the CI machine is busy,
 * over 120 s with two busy loops and other suites beside it. The deadline only catches a hang.
 */
const BIG_DEADLINE_MS = 420_000;

describe("big reads", () => {
  test(
    "the ndjson stream of a 1 GB log is complete while the server stays under 200 MB RSS; a huge filtered tail holds no lines",
    async () => {
      using dir = tempDir();
      mkdirSync(join(dir.path, "logs"));
      const log = writeBigLog(join(dir.path, "logs", "big.jsonl"), 1024 ** 3);
      // The `{logs}` form with no window (Strøm's CLI and UI) is whole, streamed as one JSON body: measured
      // alone, in a server of its own (the peak RSS of a process only rises).
      let jsonRss: number;
      {
        await using first = await spawnServer({}, { dir: dir.path });
        const json = await drainEscapedLines(await fetch(`${first.url}/api/jobs/big/logs`));
        expect([json.lines, json.end]).toEqual([
          log.lines,
          `","from":0,"next":${log.lines},"source":"local","complete":false,"truncated":false}`,
        ]);
        jsonRss = first.peakRss();
      }
      await using server = await spawnServer({}, { dir: dir.path });

      const whole = await drainCount(await fetch(`${server.url}/api/jobs/big/logs?format=ndjson`));
      expect([whole.bytes, whole.lines]).toEqual([log.size, log.lines]);
      expect(JSON.parse(whole.last).line).toStartWith(`line-${log.lines - 1} `);

      const step = await drainCount(await fetch(`${server.url}/api/jobs/big/steps/rare/logs?format=ndjson`));
      expect(step.lines).toBe(log.rare);

      // A tail larger than the log, filtered, on a file without a row (counted, then skipped) and after the
      // job is registered (the file is adopted: a backward scan). Neither holds the matching lines.
      const rowless = await drainCount(
        await fetch(`${server.url}/api/jobs/big/steps/rare/logs?tail=999999999999&format=ndjson`),
      );
      expect(rowless.lines).toBe(log.rare);
      const streamedRss = server.peakRss();
      const put = await fetch(`${server.url}/api/jobs/big`, {
        method: "PUT",
        body: JSON.stringify({ workspace: "w", task: "t" }),
      });
      expect(put.status).toBe(201);
      const huge = await fetch(`${server.url}/api/jobs/big/steps/build/logs?tail=999999999999`);
      const body = (await huge.json()) as { logs: string; from: number; truncated: boolean };
      expect([huge.status, body.truncated, body.from, Buffer.byteLength(body.logs) <= 16 * 2 ** 20]).toEqual([
        200,
        true,
        1,
        true,
      ]);
      // A JSON read of a rare step keeps few lines of many blocks: it must not pin the blocks they came from.
      const rare = (await (await fetch(`${server.url}/api/jobs/big/steps/rare/logs`)).json()) as {
        logs: string;
      };
      expect(rare.logs.split("\n").length - 1).toBe(log.rare);
      const last = await fetch(`${server.url}/api/jobs/big/steps/rare/logs?tail=2`);
      const lastBody = (await last.json()) as { logs: string; next: number };
      expect([lastBody.logs.split("\n").length - 1, lastBody.next]).toEqual([2, log.lines]);

      const rss = server.peakRss();
      console.log(
        `1 GB log: peak server RSS ${(jsonRss / 2 ** 20).toFixed(0)} MB for a whole {logs} read alone, ` +
          `${(streamedRss / 2 ** 20).toFixed(0)} MB over the ndjson reads, ` +
          `${(rss / 2 ** 20).toFixed(0)} MB after JSON reads (capped at max_read_bytes, 16 MiB)`,
      );
      // 116 MB measured (issue 12 asks ≤ 128 MB); the bound leaves room for a busy machine's collector.
      expect(jsonRss).toBeLessThan(150 * 2 ** 20);
      expect(streamedRss).toBeLessThan(200 * 2 ** 20);
      // A JSON answer holds its (capped) text a few times over while it is encoded, and the blocks scanned for
      // a rare step are garbage the collector reaches late (~250 MB peak for that read alone). Before lines
      // were detached from their blocks, that read pinned every block it scanned: 1.6 GB here.
      expect(rss).toBeLessThan(400 * 2 ** 20);
    },
    BIG_DEADLINE_MS,
  );
});

/** Reads a JSON `{logs}` body to the end without holding it: counts its escaped newlines, keeps its last bytes. */
async function drainEscapedLines(res: Response): Promise<{ lines: number; end: string }> {
  let lines = 0;
  let backslash = false;
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) {
    // Each `\` (92) escapes the byte after it: `\n` is a newline of the log, `\\` a backslash.
    for (let i = 0; i < chunk.length; i++) {
      if (backslash) {
        if (chunk[i] === 110) lines++;
        backslash = false;
      } else if (chunk[i] === 92) backslash = true;
    }
    tail = (tail + decoder.decode(chunk.subarray(Math.max(0, chunk.length - 200)))).slice(-200);
  }
  return { lines, end: tail.slice(tail.lastIndexOf("\\n") + 2) };
}
