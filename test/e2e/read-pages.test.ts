// JSON pages always move forward: a line larger than max_read_bytes comes alone, cut with a marker, and next passes it.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseJsonl, startTestServer, type TestServer } from "../support/server.ts";

interface Page {
  logs: string;
  from: number;
  next: number;
  source: string;
  complete: boolean;
  truncated: boolean;
}

/** Follows `next` from line 0 until the read is complete; fails loudly when a page does not move. */
async function pages(s: TestServer, path: string): Promise<Page[]> {
  const out: Page[] = [];
  for (let from = 0; out.length < 50; ) {
    const r = await s.fetch(`${path}?from=${from}`);
    expect(r.status).toBe(200);
    const page = (await r.json()) as Page;
    out.push(page);
    if (page.complete) return out;
    if (page.next <= from) throw new Error(`page from ${from} answered next ${page.next}: no progress`);
    from = page.next;
  }
  throw new Error("no complete page after 50 pages");
}

const MAX_READ = 64 * 1024;
const BIG = 200_000; // bytes of text in the big line: three times max_read_bytes

describe("JSON pages of a log with a line larger than max_read_bytes", () => {
  test("local JSONL: the big line comes alone, cut with its marker, still a valid log line, and next passes it", async () => {
    await using s = await startTestServer({ limits: { max_read_bytes: MAX_READ, max_line_bytes: "1MiB" } });
    const line = (text: string) => ({ ts: "2025-02-12T10:56:45.123Z", stream: "stdout", line: text });
    const before = Array.from({ length: 300 }, (_, i) => line(`before-${i} ${"a".repeat(100)}`));
    const big = line(`big:${"é".repeat(BIG / 2)}`); // two bytes a character: a cut must not split one
    const after = Array.from({ length: 3 }, (_, i) => line(`after-${i}`));
    await s.post("/worker/jobs/j/logs", { step_name: "s", lines: [...before, big, ...after] });
    await s.post("/worker/jobs/j/complete", { status: "completed" });

    const all = await pages(s, "/api/jobs/j/logs");
    const lines = all.flatMap((p) => parseJsonl(p.logs));
    const bigPage = all.find((p) => p.logs.includes("big:"))!;
    const cut = parseJsonl(bigPage.logs);
    expect({
      texts: lines.map((l) => (l.line!.startsWith("big:") ? "big" : l.line)),
      bigPage: { from: bigPage.from, next: bigPage.next, truncated: bigPage.truncated, lines: cut.length },
      marker: /…\[truncated \d+ bytes\]$/.test(cut[0]!.line!),
      fields: { ...cut[0], line: "cut" } as Record<string, string>,
      bigPageBytes: Buffer.byteLength(bigPage.logs) <= MAX_READ,
      last: all.at(-1)!.next,
    }).toEqual({
      texts: [...before.map((l) => l.line), "big", ...after.map((l) => l.line)],
      bigPage: { from: 300, next: 301, truncated: true, lines: 1 },
      marker: true,
      fields: { ts: "2025-02-12T10:56:45.123Z", stream: "stdout", step: "s", line: "cut" },
      bigPageBytes: true,
      last: 304,
    });
    // The kept text is a prefix of the line, whole characters only; the marker counts what was cut.
    const kept = cut[0]!.line!.replace(/…\[truncated (\d+) bytes\]$/, "");
    const dropped = Number(/truncated (\d+) bytes/.exec(cut[0]!.line!)![1]);
    expect([big.line.startsWith(kept), Buffer.byteLength(kept) + dropped]).toEqual([
      true,
      Buffer.byteLength(big.line),
    ]);
    // The streamed form has no size limit: the line comes whole.
    const nd = await (await s.fetch("/api/jobs/j/logs?format=ndjson&from=300&limit=1")).text();
    expect(JSON.parse(nd).line).toBe(big.line);
    // A tail of the big line alone moves on too.
    const tail = (await (await s.fetch("/api/jobs/j/logs?tail=4")).json()) as Page;
    expect([tail.from, tail.next, parseJsonl(tail.logs).length]).toEqual([300, 301, 1]);
  });

  test("legacy .log: a 17 MiB line at the default max_read_bytes comes alone, cut with its marker, and next passes it", async () => {
    await using s = await startTestServer();
    const big = `x${"y".repeat(17 * 1024 * 1024)}`;
    writeFileSync(join(s.dir, "old.log"), `first\nsecond\n${big}\nlast\n`);
    // A legacy log without a row is never complete: follow next until the end of the file.
    const seen: Array<{ from: number; next: number; truncated: boolean; head: string }> = [];
    const marker = /…\[truncated (\d+) bytes\]\n$/;
    let cut = { bytes: 0, marker: false, keptPlusCut: 0 };
    for (let from = 0; from < 4 && seen.length < 10; ) {
      const page = (await (await s.fetch(`/api/jobs/old/logs?from=${from}`)).json()) as Page;
      seen.push({ from, next: page.next, truncated: page.truncated, head: page.logs.slice(0, 12) });
      const m = marker.exec(page.logs);
      if (m) {
        const kept = Buffer.byteLength(page.logs.replace(marker, ""));
        cut = { bytes: Buffer.byteLength(page.logs), marker: true, keptPlusCut: kept + Number(m[1]) };
      }
      if (page.next <= from) break;
      from = page.next;
    }
    expect({ pages: seen, cut: { ...cut, bytes: cut.bytes <= 16 * 1024 * 1024 } }).toEqual({
      pages: [
        { from: 0, next: 2, truncated: true, head: "first\nsecond" },
        { from: 2, next: 3, truncated: true, head: "xyyyyyyyyyyy" },
        { from: 3, next: 4, truncated: false, head: "last\n" },
      ],
      cut: { bytes: true, marker: true, keptPlusCut: big.length },
    });
  }, 60_000);
});
