// Reads of a 1 GB log stream with bounded memory: the server's RSS stays under 200 MB.
import { describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { drainCount, writeBigLog } from "../support/biglog.ts";
import { spawnServer } from "../support/process.ts";
import { tempDir } from "../support/server.ts";

describe("big reads", () => {
  test("the ndjson stream of a 1 GB log is complete while the server stays under 200 MB RSS", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "logs"));
    const log = writeBigLog(join(dir.path, "logs", "big.jsonl"), 1024 ** 3);
    await using server = await spawnServer({}, { dir: dir.path });

    const whole = await drainCount(await fetch(`${server.url}/api/jobs/big/logs?format=ndjson`));
    expect([whole.bytes, whole.lines]).toEqual([log.size, log.lines]);
    expect(JSON.parse(whole.last).line).toStartWith(`line-${log.lines - 1} `);

    const step = await drainCount(await fetch(`${server.url}/api/jobs/big/steps/rare/logs?format=ndjson`));
    expect(step.lines).toBe(log.rare);

    const rss = server.peakRss();
    console.log(`1 GB ndjson read: peak server RSS ${(rss / 2 ** 20).toFixed(0)} MB`);
    expect(rss).toBeLessThan(200 * 2 ** 20);
  }, 120_000);
});
