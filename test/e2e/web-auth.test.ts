// The log viewer on a server with tokens, in a real browser: sign in, a refused token, and the token never in a URL.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { launchBrowser, openPage } from "../support/browser.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

const WORKER = "worker-secret-1";
const READER = "reader-secret-2";
let browser: Browser;
let server: TestServer;
const auth = { authorization: `Bearer ${WORKER}` };

beforeAll(async () => {
  [browser, server] = await Promise.all([
    launchBrowser(),
    startTestServer({ auth: { worker_token: WORKER, read_tokens: [READER] } }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await server?.[Symbol.asyncDispose]();
});

const push = (job: string, lines: string[]) =>
  server.post(
    `/worker/jobs/${job}/logs`,
    { step_name: "build", lines: lines.map((line) => ({ stream: "stdout", line })) },
    auth,
  );

test("without a token the page says one is needed; a wrong one is refused; the right one shows the logs, live", async () => {
  expect((await push("secret", ["one", "two"])).status).toBe(200);
  const page = await openPage(browser, { height: 700 });
  const urls: string[] = [];
  page.on("request", (r) => urls.push(r.url()));
  page.on("websocket", (ws) => urls.push(ws.url()));

  await page.goto(`${server.url}/jobs/secret`);
  await page.waitForSelector(".signin");
  expect(await page.textContent(".signin h2")).toBe("Sign in");
  expect(await page.textContent(".signin p")).toContain("needs a read token");

  await page.fill('.signin input[name="token"]', "not-the-token");
  await page.click('.signin button[type="submit"]');
  await page.waitForSelector(".signin >> text=Token refused");
  expect(await page.textContent(".signin p")).toContain("the token presented is not valid for read");

  await page.fill('.signin input[name="token"]', READER);
  await page.click('.signin button[type="submit"]');
  await page.waitForSelector('.row[data-n="1"]');
  expect(await page.isVisible(".signin")).toBe(false);
  expect(await page.evaluate(() => sessionStorage.getItem("stroem-logs.token"))).toBe(READER);
  // Live over the WebSocket: the token travels as a subprotocol.
  await page.waitForSelector(".conn.live");
  expect((await push("secret", ["three"])).status).toBe(200);
  await page.waitForSelector('.row[data-n="2"] >> text=three');

  // A download with a token: fetched with the header, saved by the browser.
  const [file] = await Promise.all([page.waitForEvent("download"), page.click("text=JSONL")]);
  expect(file.suggestedFilename()).toBe("secret.jsonl");
  expect(readFileSync((await file.path())!, "utf8").split("\n").length).toBe(4);

  expect(urls.filter((u) => u.includes(READER) || u.includes("token"))).toEqual([]);
  expect(urls.some((u) => u.startsWith("ws://"))).toBe(true);

  // Signing out forgets the token.
  await page.click("button.signout");
  await page.waitForSelector(".signin");
  expect(await page.evaluate(() => sessionStorage.getItem("stroem-logs.token"))).toBeNull();
  expect(page.errors).toEqual([]);
  await page.context().close();
}, 60_000);
