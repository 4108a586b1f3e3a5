// The log viewer in a real browser (Debian's Chromium): what a person does on the jobs page and a job's page.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, openPage, shotsDir, waitText, waitUntil } from "../support/browser.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

const E = "\x1b";
let browser: Browser;
let server: TestServer;

async function push(job: string, step: string, lines: Array<{ line: string; stream?: "stdout" | "stderr" }>) {
  const res = await server.post(`/worker/jobs/${job}/logs`, {
    step_name: step,
    lines: lines.map((l) => ({ ts: "2025-02-12T10:56:45.123Z", stream: l.stream ?? "stdout", line: l.line })),
  });
  expect(res.status).toBe(200);
}

const register = (id: string, workspace: string, task: string) =>
  server.fetch(`/api/jobs/${id}`, { method: "PUT", body: JSON.stringify({ workspace, task }) });

beforeAll(async () => {
  [browser, server] = await Promise.all([launchBrowser(), startTestServer()]);
  await register("color", "infra", "deploy/eu");
  await push("color", "build", [
    { line: `${E}[1mbold${E}[0m and ${E}[31mred${E}[0m` },
    {
      line: `${E}[38;5;208morange${E}[0m ${E}[38;2;120;80;255mviolet${E}[0m ${E}[3;4mitalic-underlined${E}[0m`,
    },
    { line: "downloading 10%\rdownloading 50%\rdownloading 100% done" },
    { line: "boom: exit 1", stream: "stderr" },
  ]);
  await push(
    "color",
    "test",
    Array.from({ length: 30 }, (_, i) => ({ line: `test ${i} ok` })),
  );
  expect((await server.post("/api/jobs/color/events", { message: "hook notify failed: 502" })).status).toBe(
    200,
  );
  await server.post("/worker/jobs/color/complete", { status: "failed", error: "exit 1" });
  // A log far larger than one page of rows: 20,000 lines, a rare word on three of them.
  await register("big", "infra", "nightly");
  for (let b = 0; b < 20; b++) {
    await push(
      "big",
      b < 10 ? "compile" : "test",
      Array.from({ length: 1000 }, (_, i) => {
        const n = b * 1000 + i;
        return { line: n === 3 || n === 12_345 || n === 19_999 ? `line ${n} needle here` : `line ${n}` };
      }),
    );
  }
  await server.post("/worker/jobs/big/complete", { status: "completed" });
  await register("other", "web", "build");
  await push("other", "s", [{ line: "hello" }]);
  // Two steps interleaved line by line: more runs than the steps summary lists.
  await register("mixed", "web", "parallel");
  for (let i = 0; i < 3000; i += 500) {
    for (let j = i; j < i + 500; j++) await push("mixed", j % 2 === 0 ? "a" : "b", [{ line: `mixed ${j}` }]);
  }
  await server.post("/worker/jobs/mixed/complete", { status: "completed" });
  await register("long", "web", "long");
  await push("long", "s", [{ line: `${"x".repeat(600)}END` }, { line: "short" }]);
  await server.post("/worker/jobs/long/complete", { status: "completed" });
  // A legacy plain-text log with no job row.
  writeFileSync(join(server.dir, "old.log"), "first plain line\nsecond plain line\n");
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.[Symbol.asyncDispose]();
});

async function open(path: string, opts: { height?: number } = {}): Promise<Page & { errors: string[] }> {
  const page = await openPage(browser, opts);
  await page.goto(`${server.url}${path}`);
  return page;
}

/** The rows in view: line number (1-based, as shown) and text. */
async function rows(page: Page): Promise<Array<[number, string]>> {
  return page.$$eval(".vlist .row[data-n]", (els) =>
    els.map((el) => [
      Number(el.querySelector(".ln")!.textContent),
      el.querySelector(".tx")!.textContent ?? "",
    ]),
  ) as Promise<Array<[number, string]>>;
}

describe("log viewer in a browser", () => {
  test("the jobs page lists recent jobs with status, workspace/task and counts, and filters them", async () => {
    const page = await open("/");
    await page.waitForSelector("table.jobs tbody tr");
    const ids = await page.$$eval("table.jobs tbody tr", (trs) =>
      trs.map((tr) => tr.getAttribute("data-id")),
    );
    expect(ids).toEqual(["long", "mixed", "other", "big", "color"]);
    expect(await page.textContent('tr[data-id="color"]')).toContain("failed");
    expect(await page.textContent('tr[data-id="big"]')).toContain("20,000");
    await page.fill('input[name="workspace"]', "infra");
    await page.selectOption('select[name="status"]', "completed");
    await waitUntil(page, `document.querySelectorAll("table.jobs tbody tr").length === 1`);
    expect(await page.getAttribute("table.jobs tbody tr", "data-id")).toBe("big");
    expect(new URL(page.url()).search).toBe("?status=completed&workspace=infra");
    await page.click('tr[data-id="big"] a');
    await page.waitForURL(/\/jobs\/big$/);
    expect(page.errors).toEqual([]);
    await page.context().close();
  }, 30_000);

  test("a job opens with its lines, ANSI colours and styles, stderr marked, progress lines as a terminal shows them", async () => {
    const page = await open("/jobs/color");
    await page.waitForSelector('.row[data-n="3"]');
    expect((await rows(page)).slice(0, 4)).toEqual([
      [1, "bold and red"],
      [2, "orange violet italic-underlined"],
      [3, "downloading 100% done"],
      [4, "boom: exit 1"],
    ]);
    const styles = await page.$$eval('.row[data-n="0"] .tx span, .row[data-n="1"] .tx span', (spans) =>
      spans.map((s) => {
        const c = s.ownerDocument.defaultView!.getComputedStyle(s);
        return [s.textContent, c.color, c.fontWeight, c.fontStyle, c.textDecorationLine];
      }),
    );
    const red = await page.evaluate<string>(
      `getComputedStyle(document.documentElement).getPropertyValue("--ansi-1")`,
    );
    const hexToRgb = (hex: string) => {
      const n = Number.parseInt(hex.trim().slice(1), 16);
      return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
    };
    expect(styles).toEqual([
      ["bold", expect.any(String), "700", "normal", "none"],
      ["red", hexToRgb(red), "400", "normal", "none"],
      ["orange", "rgb(255, 135, 0)", "400", "normal", "none"],
      ["violet", "rgb(120, 80, 255)", "400", "normal", "none"],
      ["italic-underlined", expect.any(String), "400", "italic", "underline"],
    ]);
    expect(await page.getAttribute('.row[data-n="3"]', "class")).toContain("stderr");
    // A finished job: the header says so, and nothing is followed.
    expect(await page.textContent(".badge")).toBe("failed");
    expect(await page.textContent(".head-info")).toContain("exit 1");
    expect(await page.isHidden("button.follow")).toBe(true);
    await page.screenshot({ path: join(shotsDir(), "job-colours.png") });
    expect(page.errors).toEqual([]);
    await page.context().close();
  }, 30_000);

  test("the steps pane switches the log to one step and back; rows keep their line numbers", async () => {
    const page = await open("/jobs/color");
    await page.waitForSelector(".step-row >> text=test");
    const steps = await page.$$eval(".step-row", (els) =>
      els.map((e) => [e.querySelector(".name")!.textContent, e.querySelector(".n")!.textContent]),
    );
    expect(steps).toEqual([
      ["All lines", "35"],
      ["build", "4"],
      ["test", "30"],
    ]);
    await page.click(".step-row >> text=test");
    await page.waitForSelector('.row[data-n="4"]');
    const r = await rows(page);
    expect(r[0]).toEqual([5, "test 0 ok"]);
    expect(r.length).toBe(30);
    expect(new URL(page.url()).search).toBe("?step=test");
    await page.click(".step-row >> text=All lines");
    await page.waitForSelector('.row[data-n="0"]');
    expect((await rows(page))[0]).toEqual([1, "bold and red"]);
    // A step opened by its link.
    await page.goto(`${server.url}/jobs/color?step=build`);
    await page.waitForSelector(".step-row.on >> text=build");
    await page.waitForSelector('.row[data-n="3"]');
    expect((await rows(page)).map((x) => x[0])).toEqual([1, 2, 3, 4]);
    await page.context().close();
  }, 30_000);

  test("server events appear in the amber Server Events panel; a click shows the event in the log", async () => {
    const page = await open("/jobs/color");
    await page.waitForSelector(".events .event");
    expect(await page.textContent(".events h2")).toBe("Server Events (1)");
    expect(await page.textContent(".events .event .ev-tx")).toBe("hook notify failed: 502");
    await page.click(".events .event");
    await page.waitForSelector('.row.target[data-n="34"]');
    expect(await page.textContent('.row[data-n="34"] .step')).toBe("_server");
    await page.context().close();
  }, 30_000);

  test("a #L link opens a big log at that line; a click on a line number copies the line's link", async () => {
    const page = await open("/jobs/big#L12346");
    await page.waitForSelector('.row.target[data-n="12345"]');
    expect(await page.textContent('.row[data-n="12345"] .tx')).toBe("line 12345 needle here");
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.click('.row[data-n="12350"] .ln');
    await page.waitForSelector('.row.target[data-n="12350"]');
    expect(new URL(page.url()).hash).toBe("#L12351");
    expect(await page.evaluate<string>("navigator.clipboard.readText()")).toBe(
      `${server.url}/jobs/big#L12351`,
    );
    expect(await page.textContent(".toast")).toBe("link to line 12,351 copied");
    await page.context().close();
  }, 30_000);

  test("search looks through the whole log, not only the rows loaded: a count, next and previous match", async () => {
    const page = await open("/jobs/big");
    await page.waitForSelector('.row[data-n="0"]');
    await page.keyboard.press("/");
    await page.keyboard.type("needle");
    await page.keyboard.press("Enter");
    await waitText(page, ".search-count", "1 of 3 matches");
    await page.waitForSelector('.row.current[data-n="3"]');
    await page.click(".log-pane");
    await page.keyboard.press("n");
    await page.waitForSelector('.row.current[data-n="12345"]');
    expect(await page.textContent(".search-count")).toBe("2 of 3 matches");
    expect(await page.textContent('.row.current[data-n="12345"] mark')).toBe("needle");
    await page.keyboard.press("n");
    await page.waitForSelector('.row.current[data-n="19999"]');
    await page.keyboard.press("N");
    await page.waitForSelector('.row.current[data-n="12345"]');
    await page.screenshot({ path: join(shotsDir(), "search.png") });
    // In one step only, and with a regular expression.
    await page.click(".step-row >> text=test");
    await waitText(page, ".search-count", "1 of 2 matches");
    await page.check('input[aria-label="regular expression"]');
    await page.fill(".search-input", "^line 1999\\d needle");
    await page.keyboard.press("Enter");
    await waitText(page, ".search-count", "1 of 1 match");
    await page.waitForSelector('.row.current[data-n="19999"]');
    await page.fill(".search-input", "nothing like this");
    await page.keyboard.press("Enter");
    await waitText(page, ".search-count", "no match");
    expect(page.errors).toEqual([]);
    await page.context().close();
  }, 30_000);

  test("keys g and G go to the top and the end; timestamps switch off, to local time and back to UTC", async () => {
    const page = await open("/jobs/big");
    await page.waitForSelector('.row[data-n="0"]');
    await page.click(".log-pane");
    await page.keyboard.press("G");
    await page.waitForSelector('.row[data-n="19999"]');
    await page.keyboard.press("g");
    await page.waitForSelector('.row[data-n="0"]');
    expect(await page.textContent('.row[data-n="0"] .ts')).toBe("10:56:45.123");
    await page.selectOption('select[aria-label="timestamps"]', "off");
    await page.waitForSelector('.row[data-n="0"]:not(:has(.ts))');
    await page.selectOption('select[aria-label="timestamps"]', "local");
    const local = await page.evaluate<string>(
      `(() => { const d = new Date("2025-02-12T10:56:45.123Z"); const p = (n) => String(n).padStart(2, "0"); return p(d.getHours()) + ":" + p(d.getMinutes()) + ":45.123"; })()`,
    );
    await waitText(page, '.row[data-n="0"] .ts', local);
    await page.selectOption('select[aria-label="timestamps"]', "utc");
    await waitText(page, '.row[data-n="0"] .ts', "10:56:45.123");
    await page.context().close();
  }, 30_000);

  test("a step interleaved with another (more runs than the summary lists) still shows all its lines, in order", async () => {
    const page = await open("/jobs/mixed?step=b");
    await page.waitForSelector(".step-row.on >> text=b");
    await page.waitForSelector('.row[data-n="1"]');
    // A match past the runs the summary lists is placed, then shown.
    await page.fill(".search-input", "mixed 2501");
    await page.press(".search-input", "Enter");
    await page.waitForSelector('.row.current[data-n="2501"]');
    await page.fill(".search-input", "");
    await page.press(".search-input", "Enter");
    await page.click(".log-pane");
    await page.keyboard.press("g");
    await page.waitForSelector('.row[data-n="1"]');
    expect((await rows(page)).slice(0, 3)).toEqual([
      [2, "mixed 1"],
      [4, "mixed 3"],
      [6, "mixed 5"],
    ]);
    await page.click(".log-pane");
    await page.keyboard.press("G");
    await page.waitForSelector('.row[data-n="2999"]');
    const end = await rows(page);
    expect(end.slice(-2)).toEqual([
      [2998, "mixed 2997"],
      [3000, "mixed 2999"],
    ]);
    expect(page.errors).toEqual([]);
    await page.context().close();
  }, 30_000);

  test("a long line scrolls sideways, the line numbers stay in view; wrap shows it whole", async () => {
    const page = await open("/jobs/long");
    await page.waitForSelector('.row[data-n="1"]');
    const scrolled = await page.evaluate<number[]>(`(() => {
      const r = document.querySelector(".vlist-rows");
      r.scrollLeft = 100000;
      const ln = document.querySelector('.row[data-n="0"] .ln').getBoundingClientRect();
      return [r.scrollWidth > r.clientWidth * 2 ? 1 : 0, r.scrollLeft > 0 ? 1 : 0, Math.round(ln.left - r.getBoundingClientRect().left)];
    })()`);
    expect(scrolled).toEqual([1, 1, 0]);
    await page.check('input[aria-label="wrap lines"]');
    await waitUntil(
      page,
      `document.querySelector('.row[data-n="0"]').offsetHeight > 5 * document.querySelector('.row[data-n="1"]').offsetHeight`,
    );
    expect(
      await page.evaluate<number>(
        `document.querySelector(".vlist-rows").scrollWidth - document.querySelector(".vlist-rows").clientWidth`,
      ),
    ).toBe(0);
    await page.uncheck('input[aria-label="wrap lines"]');
    await page.context().close();
  }, 30_000);

  test("a legacy plain-text log with no job row is shown as its lines", async () => {
    const page = await open("/jobs/old");
    await page.waitForSelector('.row[data-n="1"]');
    expect(await rows(page)).toEqual([
      [1, "first plain line"],
      [2, "second plain line"],
    ]);
    expect(await page.textContent(".head-info")).toContain("no job registered");
    await page.context().close();
  }, 30_000);

  test("download saves the log as JSONL and as plain text, named after the job (and the step)", async () => {
    const page = await open("/jobs/color");
    await page.waitForSelector('.row[data-n="0"]');
    const [jsonl] = await Promise.all([page.waitForEvent("download"), page.click("text=JSONL")]);
    expect(jsonl.suggestedFilename()).toBe("color.jsonl");
    const expected = await (await server.fetch("/api/jobs/color/logs?format=ndjson")).text();
    expect(readFileSync((await jsonl.path())!, "utf8")).toBe(expected);
    await page.click(".step-row >> text=build");
    await page.waitForSelector(".step-row.on >> text=build");
    const [text] = await Promise.all([page.waitForEvent("download"), page.click(".dl >> text=text")]);
    expect(text.suggestedFilename()).toBe("color-build.log");
    expect(readFileSync((await text.path())!, "utf8")).toBe(
      `${E}[1mbold${E}[0m and ${E}[31mred${E}[0m\n${E}[38;5;208morange${E}[0m ${E}[38;2;120;80;255mviolet${E}[0m ${E}[3;4mitalic-underlined${E}[0m\ndownloading 10%\rdownloading 50%\rdownloading 100% done\nboom: exit 1\n`,
    );
    await page.context().close();
  }, 30_000);
});
