// Test support: headless Chromium from Debian (never a downloaded browser), one per test file, and a TCP proxy
// that can cut every connection through it (a network drop between the page and the server).
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/lib/chromium/chromium";

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/test installs it)`);
  }
  return chromium.launch({ executablePath: CHROMIUM });
}

/** A page that fails the test on any uncaught error in the page; its console errors are kept. */
export async function openPage(
  browser: Browser,
  opts: { width?: number; height?: number } = {},
): Promise<Page & { errors: string[] }> {
  const ctx = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    acceptDownloads: true,
  });
  const page = (await ctx.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  return page;
}

/** Where tests write their screenshots (kept after the run for a person to look at). */
export function shotsDir(): string {
  const dir = join(tmpdir(), "stroem-logs-web-shots");
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface CuttingProxy {
  url: string;
  /** Closes every connection through the proxy now; with `refuse`, new ones are closed too until `heal()`. */
  cut(refuse?: boolean): void;
  heal(): void;
  [Symbol.dispose](): void;
}

/** A TCP proxy on 127.0.0.1:0 in front of `target` (http://host:port). */
export function cuttingProxy(target: string): CuttingProxy {
  const { hostname, port } = new URL(target);
  interface Peer {
    other: Socket<Peer> | null;
    /** Bytes for this socket that it did not take yet (a partial write), sent on drain. */
    out: Uint8Array[];
    /** Bytes from the client before the server side connected. */
    early: Uint8Array[];
  }
  const open = new Set<Socket<Peer>>();
  let refusing = false;
  const send = (to: Socket<Peer>, chunk: Uint8Array) => {
    if (to.data.out.length > 0) {
      to.data.out.push(new Uint8Array(chunk));
      return;
    }
    const n = to.write(chunk);
    if (n < chunk.length) to.data.out.push(new Uint8Array(chunk.subarray(Math.max(0, n))));
  };
  const drain = (s: Socket<Peer>) => {
    while (s.data.out.length > 0) {
      const c = s.data.out[0]!;
      const n = s.write(c);
      if (n < c.length) {
        s.data.out[0] = c.subarray(Math.max(0, n));
        return;
      }
      s.data.out.shift();
    }
  };
  const listener: TCPSocketListener<Peer> = Bun.listen<Peer>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { other: null, out: [], early: [] };
        if (refusing) {
          client.terminate();
          return;
        }
        open.add(client);
        void Bun.connect<Peer>({
          hostname,
          port: Number(port),
          socket: {
            open(server) {
              server.data = { other: client, out: [], early: [] };
              client.data.other = server;
              open.add(server);
              for (const c of client.data.early) send(server, c);
              client.data.early = [];
            },
            data(server, chunk) {
              if (server.data.other !== null) send(server.data.other, chunk);
            },
            drain,
            close(server) {
              open.delete(server);
              server.data.other?.end();
            },
            error(server) {
              server.data.other?.end();
            },
          },
        }).catch(() => client.terminate());
      },
      data(client, chunk) {
        if (client.data.other === null) {
          client.data.early.push(new Uint8Array(chunk));
        } else send(client.data.other, chunk);
      },
      drain,
      close(client) {
        open.delete(client);
        client.data?.other?.end();
      },
      error(client) {
        client.data?.other?.end();
      },
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}`,
    cut(refuse = false) {
      refusing = refuse;
      for (const s of [...open]) s.terminate();
      open.clear();
    },
    heal() {
      refusing = false;
    },
    [Symbol.dispose]() {
      for (const s of [...open]) s.terminate();
      listener.stop(true);
    },
  };
}

// Page-side checks are written as expressions: the test program is type-checked without the DOM library
// (it clashes with Bun's types), and these run in the browser.
const j = JSON.stringify;

/** Waits until the first element matching `selector` has exactly `text` (or matches the pattern). */
export function waitText(page: Page, selector: string, text: string | RegExp, timeout = 15_000) {
  const test =
    typeof text === "string"
      ? `(document.querySelector(${j(selector)})?.textContent ?? null) === ${j(text)}`
      : `${text}.test(document.querySelector(${j(selector)})?.textContent ?? "")`;
  return page.waitForFunction(test, undefined, { timeout });
}

/**
 * Waits until `expression` (evaluated in the page) is true. An expression that throws is "not yet": the
 * elements it reads may be between two renders (a virtual list re-creates its rows), and a throwing
 * predicate would end Playwright's wait at once. A timeout names the expression.
 */
export async function waitUntil(page: Page, expression: string, timeout = 15_000): Promise<void> {
  try {
    await page.waitForFunction(
      `(() => { try { return Boolean(${expression}); } catch { return false; } })()`,
      undefined,
      { timeout },
    );
  } catch (e) {
    throw new Error(`waited ${timeout} ms for ${expression}: ${(e as Error).message.split("\n")[0]}`);
  }
}
