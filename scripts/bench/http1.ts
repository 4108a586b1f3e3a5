// A lean HTTP/1.1 client for the load generators: one keep-alive connection, one request in flight, requests
// pre-serialised, answers parsed just enough (status line, Content-Length, body). Bun's fetch cost ~226 µs of
// the client's CPU per 48 KB push, this ~115 µs (most of it the kernel's loopback work, which is charged to the
// sender); on a 2-core machine every client microsecond is taken from the server under test.
import type { Socket } from "bun";

export interface Answer {
  status: number;
  body: Uint8Array;
}

const CRLF2 = Buffer.from("\r\n\r\n");

/** The bytes of one POST (head and body), ready to write as they are. */
export function postBytes(
  host: string,
  path: string,
  body: Uint8Array,
  type = "application/json",
): Uint8Array {
  const head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

/** A keep-alive connection to `url`'s host; `send` writes a request and resolves with its answer. */
export async function connect(url: string) {
  const { hostname, port } = new URL(url);
  let buf: Buffer = Buffer.alloc(0);
  let waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void } | null = null;
  let out: Uint8Array | null = null;
  let closed: Error | null = null;

  function parse(): void {
    if (waiting === null) return;
    const end = buf.indexOf(CRLF2);
    if (end === -1) return;
    const head = buf.subarray(0, end).toString("latin1");
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (m === null) {
      waiting.reject(new Error(`answer without Content-Length: ${head}`));
      waiting = null;
      return;
    }
    const len = Number(m[1]);
    if (buf.length < end + 4 + len) return;
    const body = buf.subarray(end + 4, end + 4 + len);
    buf = buf.subarray(end + 4 + len);
    const w = waiting;
    waiting = null;
    w.resolve({ status, body });
  }
  function flush(s: Socket): void {
    while (out !== null) {
      const n = s.write(out);
      if (n >= out.length) out = null;
      else if (n <= 0) return;
      else out = out.subarray(n);
    }
  }
  const fail = (e: Error) => {
    closed = e;
    waiting?.reject(e);
    waiting = null;
  };
  const socket = await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      data(_s, data) {
        buf = buf.length === 0 ? data : Buffer.concat([buf, data]);
        parse();
      },
      drain: flush,
      close: () => fail(new Error("connection closed")),
      error: (_s, e) => fail(e),
    },
  });
  socket.setNoDelay(true);
  return {
    send(request: Uint8Array): Promise<Answer> {
      if (closed !== null) return Promise.reject(closed);
      if (waiting !== null) return Promise.reject(new Error("one request at a time"));
      const { promise, resolve, reject } = Promise.withResolvers<Answer>();
      waiting = { resolve, reject };
      out = request;
      flush(socket);
      return promise;
    },
    close: () => socket.end(),
  };
}
