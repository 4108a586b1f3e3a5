// Test support: the whole service in this process without a socket — requests go through `app.request`.
import type { Tree } from "../../src/config/load.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { type Logger, silentLogger } from "../../src/log.ts";
import { createService, type Service } from "../../src/server.ts";
import { merge, tempDir } from "./server.ts";

export interface TestApp extends Service {
  dir: string;
  config: Config;
  request(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The service over a fresh temp dir (removed on dispose), its background work started as a server's is. */
export async function startTestApp(overrides: Tree = {}, opts: { log?: Logger } = {}): Promise<TestApp> {
  const own = tempDir();
  const config = validateConfig(
    merge(
      { server: { listen: "127.0.0.1:0", shutdown_timeout: "5s" }, log_storage: { local_dir: own.path } },
      overrides,
    ),
    "test",
  );
  const service = await createService(config, opts.log ?? silentLogger);
  service.start();
  const request = async (path: string, init?: RequestInit) => service.app.request(path, init);
  return {
    ...service,
    dir: own.path,
    config,
    request,
    post: (path, body, headers = {}) =>
      request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    async [Symbol.asyncDispose]() {
      await service.close();
      own[Symbol.dispose]();
    },
  };
}
