// Figures of the log viewer in headless Chromium (Debian's): first rows, a jump deep into the log, a search, the
// page's heap, following a job written at 10,000 lines/s — on a ~1 GB log next to a 1,000-line one — and
// Strøm's UI approach (the whole step log every 2 s) on the same logs.
import { linkSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type CDPSession, chromium, type Page } from "playwright-core";
import { CHROMIUM } from "../../test/support/browser.ts";
import {
  type BenchOptions,
  type Figure,
  fmt,
  MiB,
  median,
  postJson,
  type Row,
  spawnBinary,
} from "./common.ts";
import type { BigLog } from "./read.ts";

/** In-page probes, installed before the page's own script: when rows appear, long tasks, the follow lag. */
const PROBES = `
  window.__long = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
    .observe({ type: "longtask", buffered: true });
  window.__firstRows = null;
  const seen = () => document.querySelector(".vlist .row[data-n]");
  const mo = new MutationObserver(() => { if (window.__firstRows === null && seen()) { window.__firstRows = performance.now(); mo.disconnect(); } });
  document.addEventListener("DOMContentLoaded", () => mo.observe(document.body, { childList: true, subtree: true }));
  // Each time the last visible row shows a newer line: [when, the push time that line carries]. A change of the
  // rows is read at the next animation frame (after the frame that made it was painted), so this errs late by
  // up to a frame; the probe asks for frames only when the rows changed, not at every vsync.
  window.__shown = [];
  window.__watchLag = () => {
    let last = 0;
    let asked = false;
    const read = () => {
      asked = false;
      const rows = document.querySelectorAll(".vlist .row[data-n] .tx");
      const text = rows[rows.length - 1]?.textContent ?? "";
      const m = /t=(\\d{13})/.exec(text);
      if (m) {
        const t = Number(m[1]);
        if (t > last) window.__shown.push([Date.now(), (last = t)]);
      } else if (/t=/.test(text)) (window.__odd ??= []).push(text);
    };
    new MutationObserver(() => {
      if (!asked) requestAnimationFrame(read);
      asked = true;
    }).observe(document.querySelector(".vlist-inner"), { childList: true, subtree: true, characterData: true });
  };
  /** Resolves with the ms from now until a rendered (loaded) row shows line n. */
  window.__until = (n, start) => new Promise((resolve) => {
    const t0 = performance.now();
    start();
    const check = () => document.querySelector('.vlist .row[data-n="' + n + '"]') ? resolve(performance.now() - t0) : requestAnimationFrame(check);
    check();
  });
`;

interface Sample {
  firstRows: number;
  jump: number;
  bar: number;
  search: number;
  heapMb: number;
  long: number;
}

async function heapMb(cdp: CDPSession): Promise<number> {
  await cdp.send("HeapProfiler.collectGarbage");
  const h = (await cdp.send("Runtime.getHeapUsage")) as { usedSize: number };
  return h.usedSize / MiB;
}

/** Opens a finished job's page and measures what a person does on it. */
async function measureJob(browser: Browser, url: string, lines: number, rare: number): Promise<Sample> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript(PROBES);
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await page.goto(url);
  await page.waitForFunction("window.__firstRows !== null", undefined, { timeout: 30_000 });
  const firstRows = (await page.evaluate("window.__firstRows")) as number;
  await page.waitForSelector('.vlist .row[data-n="0"]');
  // A #L link to 90% of the log, in the open page.
  const deep = Math.floor(lines * 0.915);
  const jump = (await page.evaluate(
    `window.__until(${deep}, () => { location.hash = "#L${deep + 1}"; })`,
  )) as number;
  // The scrollbar dragged to 50%: wait for the row the view then starts with.
  const bar = (await page.evaluate(`(() => {
    const b = document.querySelector(".vlist-bar");
    const span = b.firstElementChild.offsetHeight - b.clientHeight;
    const rows = Math.floor(document.querySelector(".vlist-rows").clientHeight / 18);
    const n = Math.round(0.5 * Math.max(0, ${lines} - rows));
    return window.__until(n, () => { b.scrollTop = span * 0.5; });
  })()`)) as number;
  // A search for a string on one line only, far from the view.
  await page.evaluate(`location.hash = "#L1"`);
  await page.waitForSelector('.vlist .row[data-n="0"]');
  const search = (await page.evaluate(`window.__until(${rare}, () => {
    const input = document.querySelector(".search-input");
    input.value = "[${rare}] ";
    input.form.requestSubmit();
  })`)) as number;
  await page.waitForSelector(`.row.current[data-n="${rare}"]`);
  // Move about: 30 jumps anywhere, each waiting for its rows, then the heap after a collection.
  for (let i = 1; i <= 30; i++) {
    const n = Math.floor((lines * ((i * 7919) % 1000)) / 1000);
    await page.evaluate(`window.__until(${n}, () => { location.hash = "#L${n + 1}"; })`);
  }
  const heap = await heapMb(cdp);
  const long = Math.max(0, ...((await page.evaluate("window.__long")) as number[]));
  await ctx.close();
  return { firstRows, jump, bar, search, heapMb: heap, long };
}

/** The page's main thread over a run, in CPU time (CDP Performance, thread ticks): what load does not stretch. */
interface Cpu {
  taskMsPerS: number;
  layoutsPerS: number;
  msPerLayout: number;
}

async function metrics(
  cdp: CDPSession,
): Promise<{ TaskDuration: number; LayoutCount: number; LayoutDuration: number }> {
  const r = (await cdp.send("Performance.getMetrics")) as { metrics: Array<{ name: string; value: number }> };
  const m = new Map(r.metrics.map((x) => [x.name, x.value]));
  const get = (k: string) => m.get(k) ?? Number.NaN;
  return {
    TaskDuration: get("TaskDuration"),
    LayoutCount: get("LayoutCount"),
    LayoutDuration: get("LayoutDuration"),
  };
}

/**
 * Follows a job pushed at 10,000 lines/s for `seconds`; returns, per pushed line, the ms from its push until
 * it was on screen (lines of one push share it).
 */
export async function measureFollow(
  browser: Browser,
  base: string,
  job: string,
  seconds: number,
  strom: boolean,
): Promise<{ lags: number[]; missed: number; long: number[]; bytes: number; heap: number; cpu: Cpu }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript(PROBES);
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await postJson(`${base}/worker/jobs/${job}/logs`, {
    step_name: "build",
    lines: [{ stream: "stdout", line: "start" }],
  });
  if (strom) await page.goto(`${base}/healthz`);
  else {
    await page.goto(`${base}/jobs/${job}`);
    await page.waitForSelector(".conn.live");
  }
  // Only what happens while lines arrive counts (not the page's own start).
  await page.evaluate("window.__long = []; window.__shown = [];");
  await cdp.send("Performance.enable", { timeDomain: "threadTicks" });
  const m0 = await metrics(cdp);
  await page.evaluate(strom ? stromPoller(job) : "window.__watchLag()");
  const stop = Date.now() + seconds * 1000;
  let n = 0;
  const pushed: number[] = [];
  // 100 lines every 10 ms; each line carries the time it was pushed.
  while (Date.now() < stop) {
    const t = Date.now();
    pushed.push(t);
    const lines = Array.from({ length: 100 }, () => ({
      stream: "stdout",
      line: `t=${t} line ${n++} compiling src/app/module.ts`,
    }));
    await postJson(`${base}/worker/jobs/${job}/logs`, { step_name: "build", lines });
    const wait = t + 10 - Date.now();
    if (wait > 0) await Bun.sleep(wait);
  }
  // Until the last push is on screen (or clearly never will be).
  const last = pushed[pushed.length - 1] ?? 0;
  await page
    .waitForFunction(`window.__shown.at(-1)?.[1] >= ${last}`, undefined, { timeout: strom ? 10_000 : 5000 })
    .catch(() => {});
  const m1 = await metrics(cdp);
  const cpu = {
    taskMsPerS: ((m1.TaskDuration - m0.TaskDuration) * 1000) / seconds,
    layoutsPerS: (m1.LayoutCount - m0.LayoutCount) / seconds,
    msPerLayout:
      ((m1.LayoutDuration - m0.LayoutDuration) * 1000) / Math.max(1, m1.LayoutCount - m0.LayoutCount),
  };
  const shown = (await page.evaluate("window.__shown")) as Array<[number, number]>;
  // Each push: the first moment a row carrying its time or a later one was on screen.
  const lags: number[] = [];
  let missed = 0;
  let i = 0;
  for (const t of pushed) {
    while (i < shown.length && shown[i]![1] < t) i++;
    const at = shown[i];
    if (at === undefined) missed += 100;
    else for (let k = 0; k < 100; k++) lags.push(at[0] - t);
  }
  const odd = (await page.evaluate("window.__odd ?? []")) as string[];
  if (odd.length > 0)
    console.error(`bench web: ${odd.length} rows with an odd t=: ${JSON.stringify(odd.slice(0, 3))}`);
  const long = (await page.evaluate("window.__long")) as number[];
  const bytes = strom ? ((await page.evaluate("window.__bytes")) as number) : 0;
  const heap = await heapMb(cdp);
  await ctx.close();
  return { lags, missed, long, bytes, heap, cpu };
}

/** Strøm's UI approach: every 2 s the whole step log, parsed and rendered, in a page of the same origin. */
const stromPoller = (job: string) => `(() => {
  window.__bytes = 0;
  const pre = document.createElement("pre");
  document.body.replaceChildren(pre);
  const poll = async () => {
    const res = await fetch("/api/jobs/${job}/steps/build/logs");
    const text = await res.text();
    window.__bytes += text.length;
    const lines = JSON.parse(text).logs.split("\\n").filter(Boolean).map((l) => JSON.parse(l).line);
    pre.textContent = lines.join("\\n");
    await new Promise((r) => requestAnimationFrame(r));
    const m = /t=(\\d{13})/.exec(lines[lines.length - 1] ?? "");
    if (m) window.__shown.push([Date.now(), Number(m[1])]);
    setTimeout(poll, 2000);
  };
  poll();
})()`;

/** Strøm's approach on a finished job: how long until its whole log is on screen, or how it fails. */
async function stromOpen(
  browser: Browser,
  base: string,
  job: string,
): Promise<{ ms: number; mb: number; error: string | null }> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/healthz`);
  const t0 = performance.now();
  const r = (await page
    .evaluate(`(async () => {
    const t0 = performance.now();
    try {
      // The whole log (streamed, as the JSON form stops at max_read_bytes), parsed and rendered.
      const res = await fetch("/api/jobs/${job}/logs?format=ndjson");
      const text = await res.text();
      const lines = text.split("\\n").filter(Boolean).map((l) => JSON.parse(l).line);
      const pre = document.createElement("pre");
      pre.textContent = lines.join("\\n");
      document.body.replaceChildren(pre);
      await new Promise((r) => requestAnimationFrame(r));
      return { ms: performance.now() - t0, mb: text.length / 1048576, error: null };
    } catch (e) {
      return { ms: performance.now() - t0, mb: 0, error: String(e && e.message || e) };
    }
  })()`)
    // The tab itself may die (out of memory): that is the answer too.
    .catch((e: Error) => ({
      ms: performance.now() - t0,
      mb: 0,
      error: `the page crashed (${e.message.split("\n")[0]})`,
    }))) as {
    ms: number;
    mb: number;
    error: string | null;
  };
  await ctx.close().catch(() => {});
  return r;
}

const p = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

export async function benchWeb(o: BenchOptions, log: BigLog): Promise<Figure> {
  const dir = join(o.dir, "web");
  mkdirSync(join(dir, "logs"), { recursive: true });
  linkSync(log.path, join(dir, "logs", "big.jsonl"));
  // The 1,000-line baseline: the first 1,000 lines of the same log.
  const small = (await Bun.file(log.path).slice(0, 200_000).text()).split("\n").slice(0, 1000).join("\n");
  writeFileSync(join(dir, "logs", "small.jsonl"), `${small}\n`);
  await using server = await spawnBinary({}, dir);
  for (const id of ["big", "small"]) {
    await postJson(`${server.url}/api/jobs/${id}`, { workspace: "bench", task: "web" }, "PUT");
    await postJson(`${server.url}/worker/jobs/${id}/complete`, { status: "completed" });
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    // Warm: the page's bundle, the server's first steps scan of the big log (kept afterwards).
    await fetch(`${server.url}/jobs/small`);
    const t0 = performance.now();
    await fetch(`${server.url}/api/jobs/big/steps`);
    const stepsMs = performance.now() - t0;

    const rounds = o.quick ? 1 : 3;
    const big: Sample[] = [];
    const base: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      base.push(await measureJob(browser, `${server.url}/jobs/small`, 1000, 917));
      big.push(await measureJob(browser, `${server.url}/jobs/big`, log.lines, Math.floor(log.lines * 0.97)));
    }
    const med = (xs: Sample[], k: keyof Sample) => median(xs.map((x) => x[k]));
    const follow = await measureFollow(browser, server.url, "follow", o.quick ? 4 : 10, false);
    const stromFollow = await measureFollow(browser, server.url, "follow-strom", o.quick ? 4 : 10, true);
    const stromSmall = await stromOpen(browser, server.url, "small");
    const stromBig = await stromOpen(browser, server.url, "big");
    const shots = process.env.STROEM_BENCH_SHOTS;
    if (shots !== undefined) await screenshots(browser, server.url, shots, Math.floor(log.lines * 0.97));

    const gb = (log.size / 1024 ** 3).toFixed(2);
    const ms = (x: number) => `${fmt.ms(x)} ms`;
    const row = (figure: string, k: keyof Sample, target: number, unit = ms): Row => {
      const v = med(big, k);
      const b = med(base, k);
      return {
        figure,
        value: unit(v),
        baseline: `${unit(b)} (1,000 lines)`,
        ratio: fmt.ratio(v / b),
        target: `≤ ${unit(target)}`,
        pass: v <= target,
      };
    };
    const mb = (x: number) => `${x.toFixed(1)} MB`;
    const lagP99 = p(follow.lags, 0.99);
    const longMax = Math.max(0, ...follow.long);
    const stromLongMax = Math.max(0, ...stromFollow.long);
    return {
      rows: [
        row(`viewer: first rows after navigation, ${gb} GB log`, "firstRows", 500),
        row(`viewer: #L link to line ${fmt.int(Math.floor(log.lines * 0.915))} shown`, "jump", 300),
        row("viewer: scrollbar dragged to the middle, rows shown", "bar", 300),
        row("viewer: search for a rare string, first match shown", "search", 1000),
        row("viewer: JS heap after open, jumps, search (after GC)", "heapMb", 100, mb),
        {
          figure: "viewer: following 10,000 lines/s, line pushed → on screen p50 / p99",
          value:
            `${fmt.ms(p(follow.lags, 0.5))} / ${fmt.ms(lagP99)} ms, longest task ${fmt.ms(longMax)} ms` +
            (follow.missed > 0 ? `, ${fmt.int(follow.missed)} lines never shown` : "") +
            `; main thread ${fmt.int(follow.cpu.taskMsPerS)} ms CPU/s, ${fmt.int(follow.cpu.layoutsPerS)} layouts/s of ${follow.cpu.msPerLayout.toFixed(1)} ms`,
          baseline: `${fmt.ms(p(stromFollow.lags, 0.5))} / ${fmt.ms(p(stromFollow.lags, 0.99))} ms, longest task ${fmt.ms(stromLongMax)} ms (Strøm UI: whole step log every 2 s)`,
          ratio: fmt.ratio(lagP99 / p(stromFollow.lags, 0.99)),
          target: "p99 ≤ 250 ms, no task > 50 ms",
          pass: lagP99 <= 250 && longMax <= 50 && follow.missed === 0,
        },
        {
          figure: `Strøm UI approach: whole log fetched and shown, ${gb} GB log`,
          value:
            stromBig.error === null
              ? `${fmt.int(stromBig.ms)} ms (${fmt.int(stromBig.mb)} MB)`
              : `fails after ${fmt.int(stromBig.ms)} ms: ${stromBig.error}`,
          baseline: `${fmt.ms(stromSmall.ms)} ms (1,000 lines)`,
          ratio: stromBig.error === null ? fmt.ratio(stromBig.ms / stromSmall.ms) : "—",
          target: "—",
          pass: null,
        },
      ],
      notes: [
        `web: the page served by the compiled binary to headless Chromium (Debian's ${CHROMIUM}, playwright-core), ` +
          `1280×800; the ${gb} GB log of ${fmt.int(log.lines)} lines is the read figure's, adopted and completed; ` +
          `the baseline is its first 1,000 lines as a job of its own. Times are in the page (performance.now) until ` +
          `a loaded row shows the line; median of ${rounds}. The heap is Runtime.getHeapUsage after ` +
          "HeapProfiler.collectGarbage, after opening, a #L jump, a scrollbar drag, a search and 30 jumps about the log. " +
          `The server's first steps summary of the big log took ${fmt.int(stepsMs)} ms (once; the steps pane fills ` +
          "in when it arrives and does not hold up the rows).",
        `web follow: 100 lines every 10 ms pushed by the bench process for ${o.quick ? 4 : 10} s, each carrying its push time; a line's lag is from its push (before the POST) until the first animation ` +
          "frame after the last visible row came to carry its push time or a later one (a MutationObserver on the rows " +
          "asks for that frame, so the probe adds no frames of its own); long tasks from PerformanceObserver('longtask'); the main thread's CPU time from CDP Performance.getMetrics " +
          "(thread ticks: TaskDuration, LayoutCount, LayoutDuration), which a busy machine does not stretch as it does wall time. " +
          `Strøm's approach in a page of the same origin: GET the step's whole log every 2 s, JSON.parse, render as ` +
          `text (${fmt.int(stromFollow.bytes / MiB)} MB downloaded over the run; page heap ${stromFollow.heap.toFixed(0)} MB vs ${follow.heap.toFixed(0)} MB).`,
      ],
    };
  } finally {
    await browser.close();
  }
}

/** The README's two screenshots: a running job being followed, a search in the big log. */
async function screenshots(browser: Browser, base: string, dir: string, rare: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 640 } });
  const page: Page = await ctx.newPage();
  await page.goto(`${base}/jobs/big`);
  await page.waitForSelector('.vlist .row[data-n="0"]');
  await page.fill(".search-input", `[${rare}] `);
  await page.press(".search-input", "Enter");
  await page.waitForSelector(`.row.current[data-n="${rare}"]`);
  await page.waitForSelector(".step-row .n");
  await page.screenshot({ path: join(dir, "search-big-log.png") });
  await ctx.close();
}
