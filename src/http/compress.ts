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
      // 54 bytes gzipped. A JSON answer is built whole in memory (a read's is bounded by max_read_bytes),
      // so stating its length costs one copy, and only for a client that accepts an encoding.
      const res = c.res;
      if (
        c.req.header("accept-encoding") === undefined ||
        res.body === null ||
        res.headers.has("content-length") ||
        !/^\s*application\/json(?:[;\s]|$)/i.test(res.headers.get("content-type") ?? "")
      )
        return;
      const bytes = await res.arrayBuffer();
      const sized = new Response(bytes, res);
      sized.headers.set("content-length", String(bytes.byteLength));
      c.res = sized;
    });
  };
}
