// Test support: a real server on port 0 over a real temp dir, disposed with `await using`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Tree, validateConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { type Logger, silentLogger } from "../../src/log.ts";
import { type RunningServer, startServer } from "../../src/server.ts";

export interface TempDir {
  path: string;
  [Symbol.dispose](): void;
}

export function tempDir(prefix = "stroem-logs-test-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestServer extends RunningServer {
  dir: string;
  config: Config;
  /** fetch relative to the server's URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POST JSON, returning the response. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Deep-merges `b` over `a` (plain objects only). */
export function merge(a: Tree, b: Tree): Tree {
  const out: Tree = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      prev &&
      typeof prev === "object" &&
      !Array.isArray(prev)
        ? merge(prev as Tree, v as Tree)
        : v;
  }
  return out;
}

/**
 * Starts the real server in this process on 127.0.0.1:0. `dir` reuses a directory (a restart);
 * otherwise a fresh temp dir is made and removed on dispose.
 */
export async function startTestServer(
  overrides: Tree = {},
  opts: { dir?: string; log?: Logger } = {},
): Promise<TestServer> {
  const own = opts.dir === undefined ? tempDir() : null;
  const dir = opts.dir ?? own!.path;
  const config = validateConfig(
    merge(
      { server: { listen: "127.0.0.1:0", shutdown_timeout: "5s" }, log_storage: { local_dir: dir } },
      overrides,
    ),
    "test",
  );
  const server = await startServer(config, opts.log ?? silentLogger);
  const fetchRel = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
  return {
    ...server,
    dir,
    config,
    fetch: fetchRel,
    post: (path, body, headers = {}) =>
      fetchRel(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    async [Symbol.asyncDispose]() {
      await server.stop();
      own?.[Symbol.dispose]();
    },
  };
}

/** Builds `n` lines `prefix-0` … for a push body. */
export function makeLines(n: number, prefix = "line", stream: "stdout" | "stderr" = "stdout", start = 0) {
  return Array.from({ length: n }, (_, i) => ({
    ts: "2025-02-12T10:56:45.123Z",
    stream,
    line: `${prefix}-${start + i}`,
  }));
}

/** Parses a JSONL text into objects. */
export function parseJsonl(text: string): Array<Record<string, string>> {
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, string>);
}
