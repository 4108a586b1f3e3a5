// Response compression (gzip or deflate, as the client accepts): Hono's `compress`, kept off WebSocket upgrades.
import type { MiddlewareHandler } from "hono";
import { compress } from "hono/compress";
import { COMPRESSIBLE_CONTENT_TYPE_REGEX } from "hono/utils/compress";

/**
 * Hono's middleware pipes the body through a `CompressionStream`, so a streamed read stays streamed (chunked,
 * no length) and memory does not grow with the log. Only `GET`s: it leaves alone a body that already has a
 * `Content-Encoding` (an already-gzip body is never gzipped twice), a body under 1 KiB (JSON states its length
 * for this), and types that do not compress; ndjson is added to its list. A strong `ETag` becomes weak on a compressed answer (the
 * bytes differ, the content does not). A WebSocket handshake is passed by untouched: Bun has taken the socket.
 */
/** Hono's: a body of a known length under this is not worth compressing. */
const COMPRESS_THRESHOLD = 1024;

export function compression(): MiddlewareHandler {
  const inner = compress({
    contentTypeFilter: (type) =>
      COMPRESSIBLE_CONTENT_TYPE_REGEX.test(type) || /^\s*application\/x-ndjson(?:[;\s]|$)/i.test(type),
  });
  return async (c, next) => {
    // Reads only: a write's answer is a few bytes of JSON, and the ingest path pays nothing for this.
    if (c.req.method !== "GET" || c.req.header("upgrade") !== undefined) return next();
    return inner(c, async () => {
      await next();
      // Hono's 1 KiB threshold reads Content-Length, which `c.json` does not set: a 34-byte answer came out
      // 54 bytes gzipped. So a JSON body without a length is peeked at: one that ends within 1 KiB gets its
      // length stated (and is sent as it is); a longer one goes on as a stream of what was peeked and the rest
      // — a whole {logs} read is streamed at any size, and must never be collected here.
      const res = c.res;
      if (
        c.req.header("accept-encoding") === undefined ||
        res.body === null ||
        res.headers.has("content-length") ||
        !/^\s*application\/json(?:[;\s]|$)/i.test(res.headers.get("content-type") ?? "")
      )
        return;
      const reader = res.body.getReader();
      const head: Uint8Array[] = [];
      let size = 0;
      let done = false;
      while (size < COMPRESS_THRESHOLD) {
        const r = await reader.read();
        if (r.done) {
          done = true;
          break;
        }
        head.push(r.value);
        size += r.value.byteLength;
      }
      if (done) {
        const sized = new Response(Buffer.concat(head), res);
        sized.headers.set("content-length", String(size));
        c.res = sized;
        return;
      }
      c.res = new Response(rest(head, reader), res);
    });
  };
}

/** The chunks already read, then the rest of `reader`, at the reader's pace; a cancel reaches the source. */
function rest(
  head: Uint8Array[],
  reader: Pick<ReadableStreamDefaultReader<Uint8Array>, "read" | "cancel">,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const first = head.shift();
      if (first !== undefined) {
        controller.enqueue(first);
        return;
      }
      const r = await reader.read();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
