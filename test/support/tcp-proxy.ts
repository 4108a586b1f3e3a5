// Test support: a real TCP proxy in front of a server that can flip a byte of PUT bodies or hold responses back.
import { createConnection, createServer, type Socket } from "node:net";

export interface TcpProxy {
  endpoint: string;
  port: number;
  /**
   * While true, every PUT request with a body gets one byte of its body flipped (its middle byte XOR 0xff):
   * the same size, other content — as a bad NIC, cable or middlebox would do it. GETs pass untouched.
   */
  corruptPuts: boolean;
  /** When set, only PUTs whose request target (path and query) ends with this are corrupted. */
  corruptSuffix: string | null;
  /** Milliseconds each request's answer is held back before its first byte is passed on (a slow server). */
  responseDelayMs: number;
  /** PUT bodies corrupted so far. */
  readonly corrupted: number;
  /** Requests seen, by method. */
  readonly requests: Record<string, number>;
  /** Requests whose body framing the proxy could not follow (chunked): they pass uncorrupted; expect 0. */
  readonly unframed: number;
  [Symbol.asyncDispose](): Promise<void>;
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** Forwards `from` to `to` with back-pressure; each chunk goes through `map` first. */
function pump(from: Socket, to: Socket, map: (chunk: Buffer) => Buffer[] | Promise<Buffer[]>): void {
  let chain = Promise.resolve();
  from.on("data", (chunk: Buffer) => {
    from.pause();
    chain = chain.then(async () => {
      for (const out of await map(chunk)) {
        if (out.length > 0 && !to.destroyed && !to.write(out)) {
          await new Promise<void>((r) => to.once("drain", r));
        }
      }
      if (!from.destroyed) from.resume();
    });
  });
  from.on("end", () => void chain.then(() => to.end()));
  from.on("error", () => to.destroy());
  from.on("close", () => void chain.then(() => to.destroy()));
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const state = {
    corruptPuts: false,
    corruptSuffix: null as string | null,
    responseDelayMs: 0,
    corrupted: 0,
    unframed: 0,
    requests: {} as Record<string, number>,
  };

  const server = createServer((client) => {
    const upstream = createConnection(target);
    sockets.add(client);
    sockets.add(upstream);
    client.on("close", () => sockets.delete(client));
    upstream.on("close", () => sockets.delete(upstream));

    // HTTP/1.1 request framing, client → server: a head up to CRLFCRLF, then Content-Length body bytes.
    let head = Buffer.alloc(0);
    let remaining = 0;
    let offset = 0;
    let flipAt = -1;
    let passthrough = false;
    /** The next answer waits until then (`responseDelayMs` after its request's head arrived). */
    let holdUntil = 0;

    pump(client, upstream, (chunk) => {
      if (passthrough) return [chunk];
      const out: Buffer[] = [];
      let rest = chunk;
      while (rest.length > 0) {
        if (remaining > 0) {
          const take = rest.subarray(0, Math.min(remaining, rest.length));
          const body = Buffer.from(take);
          if (flipAt >= offset && flipAt < offset + body.length) {
            body[flipAt - offset]! ^= 0xff;
            state.corrupted++;
          }
          offset += body.length;
          remaining -= body.length;
          out.push(body);
          rest = rest.subarray(take.length);
          continue;
        }
        head = Buffer.concat([head, rest]);
        rest = Buffer.alloc(0);
        const end = head.indexOf(HEAD_END);
        if (end === -1) break;
        const text = head.subarray(0, end).toString("latin1");
        out.push(head.subarray(0, end + 4));
        rest = head.subarray(end + 4);
        head = Buffer.alloc(0);
        const method = text.slice(0, text.indexOf(" "));
        state.requests[method] = (state.requests[method] ?? 0) + 1;
        if (state.responseDelayMs > 0) holdUntil = Date.now() + state.responseDelayMs;
        const length = /^content-length:\s*(\d+)\s*$/im.exec(text);
        if (/^transfer-encoding:\s*chunked/im.test(text)) {
          state.unframed++;
          passthrough = true;
          out.push(rest);
          break;
        }
        remaining = length ? Number(length[1]) : 0;
        offset = 0;
        const target = text.slice(method.length + 1, text.indexOf(" ", method.length + 1)).split("?")[0]!;
        const chosen = state.corruptSuffix === null || target.endsWith(state.corruptSuffix);
        flipAt = method === "PUT" && state.corruptPuts && chosen && remaining > 0 ? remaining >> 1 : -1;
      }
      return out;
    });

    // Server → client: the first bytes after a request head belong to its answer (the SDK does not pipeline).
    pump(upstream, client, async (chunk) => {
      const wait = holdUntil - Date.now();
      holdUntil = 0;
      // The injected fault is a slow server: the wait is the fault, not a wait for an event.
      if (wait > 0) await Bun.sleep(wait);
      return [chunk];
    });
  });

  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    get corruptPuts() {
      return state.corruptPuts;
    },
    set corruptPuts(v: boolean) {
      state.corruptPuts = v;
    },
    get corruptSuffix() {
      return state.corruptSuffix;
    },
    set corruptSuffix(v: string | null) {
      state.corruptSuffix = v;
    },
    get responseDelayMs() {
      return state.responseDelayMs;
    },
    set responseDelayMs(v: number) {
      state.responseDelayMs = v;
    },
    get corrupted() {
      return state.corrupted;
    },
    get requests() {
      return { ...state.requests };
    },
    get unframed() {
      return state.unframed;
    },
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
