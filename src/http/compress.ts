// Response compression (gzip or deflate, as the client accepts): Hono's `compress`, kept off WebSocket upgrades.
import type { MiddlewareHandler } from "hono";
import { compress } from "hono/compress";
import { COMPRESSIBLE_CONTENT_TYPE_REGEX } from "hono/utils/compress";

/**
 * Hono's middleware pipes the body through a `CompressionStream`, so a streamed read stays streamed (chunked,
 * no length) and memory does not grow with the log. It leaves alone a body that already has a
 * `Content-Encoding` (an already-gzip body is never gzipped twice), a body under 1 KiB, `HEAD`, and types that
 * do not compress; ndjson is added to its list. A strong `ETag` becomes weak on a compressed answer (the
 * bytes differ, the content does not). A WebSocket handshake is passed by untouched: Bun has taken the socket.
 */
export function compression(): MiddlewareHandler {
  const inner = compress({
    contentTypeFilter: (type) =>
      COMPRESSIBLE_CONTENT_TYPE_REGEX.test(type) || /^\s*application\/x-ndjson(?:[;\s]|$)/i.test(type),
  });
  return async (c, next) => {
    if (c.req.header("upgrade") !== undefined) return next();
    return inner(c, next);
  };
}
