// Many viewers that never read while a log grows: what the server holds for them stays within stream.max_buffered_bytes.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { spawnServer } from "../support/process.ts";
import { within } from "../support/ws.ts";

const MB = 1024 * 1024;
const VIEWERS = 300;
const BUDGET = 4 * MB;

/** One push body of `n` lines (~125 bytes stored each): 2,000 lines make a live frame of ~250 KB. */
function body(start: number, n: number): string {
  const pad = "b".repeat(70);
  const lines: string[] = [];
  for (let i = start; i < start + n; i++) lines.push(`{"stream":"stdout","line":"budget-${i} ${pad}"}`);
  return `{"step_name":"build","lines":[${lines.join(",")}]}`;
}

interface Viewer {
  ws: WebSocket;
  lines: number;
  hasher: Bun.CryptoHasher;
  opened: PromiseWithResolvers<void>;
  closed: PromiseWithResolvers<{ code: number; reason: string }>;
}

/** A viewer that counts and hashes what it receives; `hasher` carries on across a resumed connection. */
function connect(url: string, query: string, hasher = new Bun.CryptoHasher("sha256"), lines = 0): Viewer {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/jobs/budget/logs/stream${query}`);
  const v: Viewer = {
    ws,
    lines,
    hasher,
    opened: Promise.withResolvers(),
    closed: Promise.withResolvers(),
  };
  ws.addEventListener("open", () => v.opened.resolve());
  ws.addEventListener("message", (e) => {
    const text = e.data as string;
    v.hasher.update(text);
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) v.lines++;
  });
  ws.addEventListener("close", (e) => v.closed.resolve({ code: e.code, reason: e.reason }));
  return v;
}

interface StreamStats {
  viewers: number;
  blocked: number;
  buffered_bytes: number;
  closing_bytes: number;
  max_buffered_bytes: number;
  closed_over_budget: { resumable: number; cut: number };
}

test(`${VIEWERS} viewers that never read while a log grows: held bytes stay within stream.max_buffered_bytes, the ones over it are closed, and each resumes with every line once`, async () => {
  await using srv = await spawnServer({
    limits: { max_streams_per_job: 1000 },
    stream: { max_buffered_bytes: BUDGET },
  });
  const stats = async () =>
    ((await (await fetch(`${srv.url}/api/stats`)).json()) as { stream: StreamStats }).stream;
  const viewers = Array.from({ length: VIEWERS }, () => connect(srv.url, ""));
  await within("every viewer to open", Promise.all(viewers.map((v) => v.opened.promise)), 30_000);
  for (const v of viewers) expect(v.ws.pause()).toBe(true);

  // Sending a frame to 300 sockets leaves ~70 MB of garbage that the allocator keeps: RSS is compared
  // between pushes while no viewer is blocked yet and pushes once they are, when only held frames can add.
  const rss = { warm: 0, stalled: 0 };
  let lines = 0;
  let heldPeak = 0;
  const push = async () => {
    const res = await fetch(`${srv.url}/worker/jobs/budget/logs`, {
      method: "POST",
      body: body(lines, 2000),
    });
    expect(res.status).toBe(200);
    lines += 2000;
    const s = await stats();
    heldPeak = Math.max(heldPeak, s.buffered_bytes + s.closing_bytes);
    const closed = s.closed_over_budget.cut + s.closed_over_budget.resumable;
    const phase = s.blocked === 0 && closed === 0 ? "warm" : "stalled";
    rss[phase] = Math.max(rss[phase], srv.rss());
    return s;
  };
  // Push until every viewer still open is blocked (its socket full), then a little more.
  let s = await push();
  const deadline = Date.now() + 120_000;
  while (
    !(
      s.viewers > 0 &&
      s.blocked === s.viewers &&
      s.closed_over_budget.cut + s.closed_over_budget.resumable > 0
    )
  ) {
    if (Date.now() > deadline) throw new Error(`viewers never all blocked: ${JSON.stringify(s)}`);
    s = await push();
  }
  for (let i = 0; i < 4; i++) s = await push();
  const closedOver = s.closed_over_budget.resumable + s.closed_over_budget.cut;

  // The viewers read again: a closed one gets what was sent before its close, then the close.
  for (const v of viewers) v.ws.resume();
  await fetch(`${srv.url}/worker/jobs/budget/complete`, { method: "POST", body: '{"status":"completed"}' });
  const ends = await within(
    "every viewer to end",
    Promise.all(viewers.map((v) => v.closed.promise)),
    120_000,
  );
  const reasons = new Map<string, number>();
  const resumed: Array<Promise<{ code: number; reason: string }>> = [];
  const finals: Viewer[] = [];
  for (const [i, end] of ends.entries()) {
    const v = viewers[i]!;
    if (end.code === 1000) {
      finals.push(v);
      continue;
    }
    const key = end.code === 1013 ? `1013 ${end.reason.replace(/\d+/g, "N")}` : String(end.code);
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
    // A 1013 names where to resume: exactly the lines it received. A cut one resumes from its own count.
    const from = end.code === 1013 ? Number(/from=(\d+)/.exec(end.reason)?.[1]) : v.lines;
    expect(from).toBe(v.lines);
    const again = connect(srv.url, `?from=${from}`, v.hasher, v.lines);
    finals.push(again);
    resumed.push(again.closed.promise);
  }
  const resumedEnds = await within("every resumed viewer to end", Promise.all(resumed), 120_000);

  const fileHash = new Bun.CryptoHasher("sha256");
  fileHash.update(await Bun.file(join(srv.dir, "logs", "budget.jsonl")).bytes());
  const digest = fileHash.digest("hex");
  console.log(
    `${VIEWERS} stalled viewers, ${((lines * 125) / MB).toFixed(1)} MB ingest, budget ${BUDGET / MB} MiB: ` +
      `${closedOver} closed over it (${s.closed_over_budget.resumable} with 1013, ${s.closed_over_budget.cut} cut); ` +
      `held peak ${(heldPeak / MB).toFixed(1)} MB; server RSS +${((rss.stalled - rss.warm) / MB).toFixed(0)} MB once stalled`,
  );
  expect(heldPeak).toBeLessThanOrEqual(BUDGET + 256 * 1024);
  // Without the budget, each of these viewers keeps a frame (~170 KB): RSS +50 MB once stalled. With it,
  // the delta measured -16 to +10 MB over ten runs (quiet and beside two busy loops) and failed CI once at
  // the old 16 MB bound: when the collector frees the 70 MB of send garbage is not ours to decide. The
  // exact bound is heldPeak above (Bun's own count of what it buffers); this one only catches the 50 MB.
  expect(rss.stalled - rss.warm).toBeLessThan(BUDGET + 28 * MB);
  expect({
    closed: closedOver > VIEWERS / 2,
    withReason: (reasons.get("1013 too slow: over stream.max_buffered_bytes N; resume with from=N") ?? 0) > 0,
    reasons: [...reasons.keys()].filter((k) => k !== "1006" && !k.startsWith("1013 too slow")),
    resumedEnds: new Set(resumedEnds.map((e) => `${e.code} ${e.reason}`)),
    complete: finals.filter((v) => v.lines !== lines || v.hasher.digest("hex") !== digest).length,
  }).toEqual({
    closed: true,
    withReason: true,
    reasons: [],
    resumedEnds: new Set(["1000 job completed"]),
    complete: 0,
  });
}, 300_000);
