// The log viewer following a running job in a real browser: live lines, pause and resume, a dropped connection.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { cuttingProxy, launchBrowser, openPage, shotsDir, waitText, waitUntil } from "../support/browser.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

let browser: Browser;
let server: TestServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchBrowser(), startTestServer()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.[Symbol.asyncDispose]();
});

let pushed = 0;
async function push(job: string, n: number, step = "build"): Promise<void> {
  const lines = Array.from({ length: n }, (_, i) => ({
    stream: (pushed + i) % 7 === 6 ? "stderr" : "stdout",
    line: `line ${pushed + i}`,
  }));
  pushed += n;
  const res = await server.post(`/worker/jobs/${job}/logs`, { step_name: step, lines });
  expect(res.status).toBe(200);
}

/** Every row's number and text, in order. */
const rows = (page: Page) =>
  page.$$eval(".vlist .row[data-n]", (els) =>
    els.map((el) => `${el.querySelector(".ln")!.textContent} ${el.querySelector(".tx")!.textContent}`),
  );

const expected = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${from + i + 1} line ${from + i}`);

const lastRow = (page: Page, n: number) =>
  waitUntil(
    page,
    `[...document.querySelectorAll(".vlist .row[data-n]")].pop()?.getAttribute("data-n") === "${n - 1}"`,
  );

test("a running job opens at its end and follows the lines as they are pushed; scrolling up pauses, f resumes", async () => {
  pushed = 0;
  await push("run1", 300);
  const page = await openPage(browser, { height: 900 });
  await page.goto(`${server.url}/jobs/run1`);
  await lastRow(page, 300);
  await page.waitForSelector(".conn.live");
  expect(await page.textContent("button.follow")).toBe("❚❚ pause");
  for (let i = 0; i < 5; i++) {
    await push("run1", 10);
    await lastRow(page, pushed);
  }
  const shown = await rows(page);
  expect(shown.slice(-20)).toEqual(expected(pushed - 20, pushed));
  await page.screenshot({ path: join(shotsDir(), "running-job.png") });

  // Scrolling up stops following: new lines do not move the view.
  await page.mouse.move(600, 400);
  await page.mouse.wheel(0, -2000);
  await waitText(page, "button.follow", "▶ follow");
  const before = (await rows(page))[0];
  await push("run1", 10);
  await waitText(page, ".step-row .n", String(pushed));
  expect((await rows(page))[0]).toBe(before!);
  // f follows again: the view jumps to the end.
  await page.keyboard.press("f");
  await lastRow(page, pushed);
  expect(await page.textContent("button.follow")).toBe("❚❚ pause");

  // The job ends: the stream closes and the page says how it ended.
  await server.post("/worker/jobs/run1/complete", { status: "completed" });
  await waitText(page, ".conn", "ended: job completed");
  await waitText(page, ".badge", "completed");
  expect(page.errors).toEqual([]);
  await page.context().close();
}, 60_000);

test("a dropped connection shows reconnecting, then resumes from the next line: every line once, in order", async () => {
  using proxy = cuttingProxy(server.url);
  pushed = 0;
  await push("run2", 10);
  // Tall enough that every line of the test is in view at once.
  const page = await openPage(browser, { height: 1600 });
  await page.goto(`${proxy.url}/jobs/run2`);
  await page.waitForSelector(".conn.live");
  await push("run2", 10);
  await lastRow(page, 20);

  // The network drops and stays down for a while; the server goes on receiving lines.
  proxy.cut(true);
  await waitText(page, ".conn", /reconnecting/);
  expect(await page.getAttribute(".conn", "class")).toContain("down");
  await push("run2", 15);
  await push("run2", 5, "deploy");
  proxy.heal();
  await page.waitForSelector(".conn.live", { timeout: 15_000 });
  await lastRow(page, 40);
  await push("run2", 20, "deploy");
  await lastRow(page, 60);

  expect(await rows(page)).toEqual(expected(0, 60));
  // The steps seen live are counted too.
  await waitUntil(
    page,
    `[...document.querySelectorAll(".step-row")].some((e) => e.querySelector(".name")?.textContent === "deploy" && e.querySelector(".n")?.textContent === "25")`,
  );
  expect(page.errors).toEqual([]);
  await page.context().close();
}, 60_000);

test("following a fast job, the rows that leave the view are refilled with exactly their new line: colour, stderr, cut long lines", async () => {
  // Rows are reused as lines scroll through: nothing of the line a row showed before may stay on it.
  const kind = (i: number) =>
    i % 37 === 5 ? "long" : i % 4 === 0 ? "red" : i % 4 === 2 ? "stderr" : "plain";
  const text = (i: number) =>
    kind(i) === "long"
      ? `long ${i} ${"x".repeat(25_000)}`
      : kind(i) === "red"
        ? `\u001b[31mred ${i}\u001b[0m after`
        : `line ${i}`;
  let sent = 0;
  const send = async (n: number) => {
    const lines = Array.from({ length: n }, (_, k) => ({
      stream: kind(sent + k) === "stderr" ? "stderr" : "stdout",
      line: text(sent + k),
    }));
    sent += n;
    const res = await server.post("/worker/jobs/run3/logs", { step_name: "build", lines });
    expect(res.status).toBe(200);
  };
  await send(10);
  const page = await openPage(browser, { height: 700 });
  await page.goto(`${server.url}/jobs/run3`);
  await page.waitForSelector(".conn.live");
  const seen = () =>
    page.$$eval(".vlist .row[data-n]", (els) =>
      els.map((el) => ({
        n: Number(el.getAttribute("data-n")),
        ln: el.querySelector(".ln")!.textContent,
        stderr: el.classList.contains("stderr"),
        styled: el.querySelectorAll(".tx span[style]").length,
        cut: el.querySelectorAll(".tx .cut").length,
        text: el.querySelector(".tx")!.textContent!.slice(0, 40),
      })),
    );
  const want = (n: number) => ({
    n,
    ln: String(n + 1),
    stderr: kind(n) === "stderr",
    styled: kind(n) === "red" ? 1 : 0,
    cut: kind(n) === "long" ? 1 : 0,
    text: (kind(n) === "red" ? `red ${n} after` : text(n)).slice(0, 40),
  });
  for (const batch of [7, 13, 50, 3, 120, 1, 64, 200, 9, 31]) {
    await send(batch);
    await lastRow(page, sent);
    const got = await seen();
    expect(got.length).toBeGreaterThan(10);
    expect(got).toEqual(got.map((r) => want(r.n)));
  }
  expect(page.errors).toEqual([]);
  await page.context().close();
}, 60_000);
