// Test support: Debian's nginx as a child process, in its own prefix (a temp dir), disposed with `await using`.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./server.ts";
import { waitFor } from "./wait.ts";

export const NGINX = "/usr/sbin/nginx";
const DEPLOY = join(import.meta.dir, "..", "..", "docs", "deploy");

export interface Nginx {
  url: string;
  port: number;
  /** The prefix directory (config, pid, temp files). */
  dir: string;
  pid: number;
  stderr(): string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Replaces `from` in `text`, which must occur exactly once: a test of a config file must run that very file. */
export function replaceOnce(text: string, from: string, to: string, file: string): string {
  const parts = text.split(from);
  if (parts.length !== 2)
    throw new Error(`${file}: expected exactly one ${JSON.stringify(from)} (found ${parts.length - 1})`);
  return parts.join(to);
}

/** A port free at this moment: bound on port 0, then released (nginx cannot listen on port 0 and report it). */
function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/**
 * The committed docs/deploy/nginx.conf and its include, with only what a test must change: the listen port,
 * the two upstream addresses, and the process's own files (pid, logs, temp dirs) inside the prefix.
 */
export function deployConfig(port: number, stromPort: number, logsPort: number, root: boolean): string {
  const file = "docs/deploy/nginx.conf";
  let conf = readFileSync(join(DEPLOY, "nginx.conf"), "utf8");
  conf = replaceOnce(
    conf,
    "worker_processes auto;",
    `worker_processes auto;\ndaemon off;\npid nginx.pid;\nerror_log stderr notice;\n${root ? "user root;\n" : ""}`,
    file,
  );
  conf = replaceOnce(
    conf,
    "http {",
    [
      "http {",
      "    access_log off;",
      "    client_body_temp_path tmp/body;",
      "    proxy_temp_path tmp/proxy;",
      "    fastcgi_temp_path tmp/fastcgi;",
      "    uwsgi_temp_path tmp/uwsgi;",
      "    scgi_temp_path tmp/scgi;",
    ].join("\n"),
    file,
  );
  conf = replaceOnce(conf, "listen 80;", `listen 127.0.0.1:${port};`, file);
  conf = replaceOnce(conf, "server 127.0.0.1:8081;", `server 127.0.0.1:${stromPort};`, file);
  conf = replaceOnce(conf, "server 127.0.0.1:8080;", `server 127.0.0.1:${logsPort};`, file);
  return conf;
}

async function startOnce(
  dir: string,
  port: number,
  stromPort: number,
  logsPort: number,
): Promise<Nginx | "port in use"> {
  const root = process.getuid?.() === 0;
  mkdirSync(join(dir, "tmp"), { recursive: true });
  writeFileSync(join(dir, "nginx.conf"), deployConfig(port, stromPort, logsPort, root));
  writeFileSync(
    join(dir, "stroem-logs.locations.conf"),
    readFileSync(join(DEPLOY, "stroem-logs.locations.conf")),
  );
  const proc = Bun.spawn([NGINX, "-p", `${dir}/`, "-c", join(dir, "nginx.conf"), "-e", "stderr"], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  let err = "";
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) err += decoder.decode(chunk, { stream: true });
  })();
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    await proc.exited;
  };
  // Ready once a connection is accepted; nginx exiting first is a start failure (its stderr says why).
  const ready = await waitFor(
    `nginx on 127.0.0.1:${port} to accept connections`,
    async () => {
      if (proc.exitCode !== null) return "exited" as const;
      try {
        const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
        s.end();
        return "up" as const;
      } catch {
        return undefined;
      }
    },
    15_000,
    10,
  ).catch(async (e) => {
    await stop();
    throw new Error(`${e}\nnginx stderr:\n${err}`);
  });
  if (ready === "exited") {
    await proc.exited;
    await drained;
    if (/Address already in use/.test(err)) return "port in use";
    throw new Error(`nginx exited with ${proc.exitCode} before listening:\n${err}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    pid: proc.pid,
    stderr: () => err,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Starts nginx with docs/deploy/nginx.conf in front of Strøm (`stromPort`) and stroem-logs (`logsPort`), on a
 * free port; another port is tried when that one was taken in the meantime.
 */
export async function startNginx(stromPort: number, logsPort: number): Promise<Nginx> {
  const dir = tempDir("stroem-nginx-");
  for (let attempt = 1; ; attempt++) {
    const r = await startOnce(dir.path, freePort(), stromPort, logsPort).catch((e) => {
      dir[Symbol.dispose]();
      throw e;
    });
    if (r !== "port in use") {
      return {
        ...r,
        async [Symbol.asyncDispose]() {
          await r[Symbol.asyncDispose]();
          dir[Symbol.dispose]();
        },
      };
    }
    if (attempt === 5) {
      dir[Symbol.dispose]();
      throw new Error("nginx: 5 free ports were taken before nginx could bind them");
    }
  }
}
