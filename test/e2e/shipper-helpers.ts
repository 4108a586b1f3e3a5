// Test support for the shipper: `stroem-logs run`/`push` as real child processes, a step's lines read back,
// a free port for a server restarted in place, and a TCP proxy that can swallow the server's replies.
import { join } from "node:path";
import type { Socket } from "bun";
import { DEADLINE_MS, waitFor } from "../support/wait.ts";

const ROOT = join(import.meta.dir, "..", "..");
const MAIN = join(ROOT, "src", "main.ts");
export const BUN = process.execPath;

export interface ShipperProcess {
  proc: Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  stdout(): string;
  stderr(): string;
  exited: Promise<number>;
  /** Resolves once stderr matches `re`; fails loudly (with stderr) after `timeoutMs`. */
  waitStderr(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves once stdout (the echo) matches `re`. */
  waitStdout(re: RegExp, timeoutMs?: number): Promise<void>;
  /** stdout, stderr and exit code together, once it exited. */
  result(): Promise<{ code: number; stdout: string; stderr: string }>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Spawns `bun src/main.ts <args>`; stdin is a pipe when `stdin` is "pipe", else /dev/null. */
export function shipper(
  args: string[],
  opts: { stdin?: "pipe"; env?: Record<string, string> } = {},
): ShipperProcess {
  const proc = Bun.spawn([BUN, MAIN, ...args], {
    stdin: opts.stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  let out = "";
  let err = "";
  const collect = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    const d = new TextDecoder();
    for await (const c of s) add(d.decode(c, { stream: true }));
  };
  const drained = Promise.all([
    collect(proc.stdout, (t) => {
      out += t;
    }),
    collect(proc.stderr, (t) => {
      err += t;
    }),
  ]);
  const exited = proc.exited.then(async (code) => {
    await drained;
    return code;
  });
  const waitText =
    (get: () => string, name: string) =>
    (re: RegExp, timeoutMs = DEADLINE_MS) =>
      waitFor(
        `shipper ${name} to match ${re} (stderr so far: ${JSON.stringify(err.slice(-2000))})`,
        () => re.test(get()),
        timeoutMs,
        10,
      ).then(() => undefined);
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitStderr: waitText(() => err, "stderr"),
    waitStdout: waitText(() => out, "stdout"),
    async result() {
      const code = await exited;
      return { code, stdout: out, stderr: err };
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

export interface StepLine {
  ts: string;
  stream: "stdout" | "stderr";
  step: string;
  line: string;
}

/** The whole log of a job (every step, server events too), parsed. */
export async function jobLines(
  base: string,
  job: string,
  headers: Record<string, string> = {},
): Promise<StepLine[]> {
  const res = await fetch(`${base}/api/jobs/${encodeURIComponent(job)}/logs?format=ndjson`, { headers });
  if (!res.ok) throw new Error(`read of ${job} answered ${res.status}: ${await res.text()}`);
  return (await res.text())
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as StepLine);
}

/** How many lines the server holds for a job (0 when it does not know it yet). */
export async function lineCount(base: string, job: string): Promise<number> {
  const res = await fetch(`${base}/api/jobs/${encodeURIComponent(job)}`);
  if (res.status === 404) return 0;
  return ((await res.json()) as { lines: number }).lines;
}

/** A port free right now (a server restarted in place needs to know its port before it starts). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** A Bun script printing `line 0` … until `stopFile` exists (then `last`), `perTick` lines every `everyMs`. */
export function pacedPrinter(stopFile: string, perTick = 1, everyMs = 5, max = 1_000_000): string[] {
  const code = `
    const fs = require("node:fs");
    let i = 0;
    const t = setInterval(() => {
      let s = "";
      for (let k = 0; k < ${perTick} && i < ${max}; k++) s += "line " + i++ + "\\n";
      if (s) fs.writeSync(1, s);
      if (i >= ${max} || fs.existsSync(${JSON.stringify(stopFile)})) { clearInterval(t); fs.writeSync(1, "last\\n"); }
    }, ${everyMs});`;
  return [BUN, "-e", code];
}

export interface Proxy {
  url: string;
  /** true: replies are swallowed (the connection is closed instead of forwarding them). */
  swallow: (response: number, request: string) => boolean;
  /** true: the reply's status line and headers are forwarded, then the connection is cut mid-body. */
  truncate: (response: number) => boolean;
  responses: number;
  truncated: number;
  swallowed: number;
  /** Forwarded replies that carried `"duplicate":true`. */
  duplicates: number;
  /** Every reply from the server: when, to which request (`POST /worker/jobs/j/logs`), and its status. */
  replies: Array<{ at: number; request: string; status: number }>;
  [Symbol.dispose](): void;
}

/**
 * A TCP proxy in front of `target`: forwards every request; for each reply (a server chunk that starts a
 * new HTTP response), `swallow(n)` decides whether it is forwarded or the client's connection is closed
 * instead — the server has then written the batch but the client never learns it.
 */
export function replyDroppingProxy(
  target: string,
  swallow: (n: number, request: string) => boolean = () => false,
): Proxy {
  const { hostname, port } = new URL(target);
  // Each direction keeps what the socket did not take yet and writes it on `drain`.
  type Side = { socket: Socket<Pair> | null; queue: Uint8Array[] };
  // Requests on one connection are answered in order: the oldest unanswered one is what a reply is for.
  type Pair = { up: Side; down: Side; asked: string[] };
  const flush = (side: Side) => {
    while (side.socket && side.queue.length > 0) {
      const chunk = side.queue[0]!;
      const n = side.socket.write(chunk);
      if (n < chunk.length) {
        side.queue[0] = chunk.subarray(Math.max(0, n));
        return;
      }
      side.queue.shift();
    }
  };
  const send = (side: Side, chunk: Uint8Array) => {
    side.queue.push(new Uint8Array(chunk));
    flush(side);
  };
  const state: Proxy = {
    url: "",
    swallow,
    truncate: () => false,
    responses: 0,
    truncated: 0,
    swallowed: 0,
    duplicates: 0,
    replies: [],
    [Symbol.dispose]: () => server.stop(true),
  };
  const decoder = new TextDecoder();
  const server = Bun.listen<Pair>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(client) {
        const pair: Pair = {
          up: { socket: null, queue: [] },
          down: { socket: client, queue: [] },
          asked: [],
        };
        client.data = pair;
        const upstream = await Bun.connect<Pair>({
          hostname,
          port: Number(port),
          data: pair,
          socket: {
            data(up, chunk) {
              if (decoder.decode(chunk.subarray(0, 9)) === "HTTP/1.1 ") {
                state.responses++;
                const request = pair.asked.shift() ?? "";
                const status = Number(decoder.decode(chunk.subarray(9, 12)));
                state.replies.push({ at: Date.now(), request, status });
                if (state.swallow(state.responses, request)) {
                  state.swallowed++;
                  client.end();
                  up.end();
                  return;
                }
                if (state.truncate(state.responses)) {
                  state.truncated++;
                  const headEnd = decoder.decode(chunk).indexOf("\r\n\r\n") + 4;
                  client.write(chunk.subarray(0, headEnd + 1)); // a 200 and one byte of its body
                  client.end();
                  up.end();
                  return;
                }
                if (decoder.decode(chunk).includes('"duplicate":true')) state.duplicates++;
              }
              send(pair.down, chunk);
            },
            drain: () => flush(pair.up),
            close: () => void client.end(),
            error: () => void client.end(),
          },
        }).catch(() => null);
        if (upstream === null) {
          client.end();
          return;
        }
        pair.up.socket = upstream;
        flush(pair.up);
      },
      data: (client, chunk) => {
        const m = /^([A-Z]+) (\S+) HTTP\/1\.1\r\n/.exec(decoder.decode(chunk.subarray(0, 2100)));
        if (m) client.data.asked.push(`${m[1]} ${m[2]}`);
        send(client.data.up, chunk);
      },
      drain: (client) => flush(client.data.down),
      close: (client) => void client.data.up.socket?.end(),
      error: (client) => void client.data.up.socket?.end(),
    },
  });
  state.url = `http://127.0.0.1:${server.port}`;
  return state;
}
