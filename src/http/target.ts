// The request target read as a URL without ever throwing, and the guard that refuses what no route can serve.
import type { Context, MiddlewareHandler } from "hono";
import { getPath } from "hono/utils/url";
import { AppError } from "../errors.ts";

/** The methods some route serves: the `Allow` of a 405. */
const SERVED = "GET, HEAD, POST, PUT";

/**
 * The absolute URL of a request target, or null when it names no path. Bun builds `request.url` from the
 * Host header and the target; without a usable Host (HTTP/1.0 health checks, an empty or malformed one)
 * it hands over the bare path, which is still the path. CONNECT's `host:port`, `*` and a URL that does not
 * parse (`http://[zz/x` from `Host: [zz`) name none.
 */
export function absoluteUrl(raw: string): URL | null {
  const url = URL.parse(raw.startsWith("/") ? `http://localhost${raw}` : raw);
  return url !== null && (url.protocol === "http:" || url.protocol === "https:") ? url : null;
}

/**
 * Hono's decoded routing path, from the target as sent (no normalisation), for any target. Hono's own
 * reading skips the scheme and host by position, so a bare path would lose its first segment. Whatever it
 * makes of a target that names no path, the guard refuses that before any route runs.
 */
export function routePath(request: Request): string {
  return request.url.startsWith("/")
    ? getPath({ url: `http://localhost${request.url}` } as Request)
    : getPath(request);
}

/** The request's URL; a target that names no path is a 400 (the guard has refused it before anyone asks). */
export function urlOf(c: Context): URL {
  const url = absoluteUrl(c.req.url);
  if (url === null) throw invalidTarget(c.req.url);
  return url;
}

/** The path for a message or a log line: never throws, whatever the target. */
export function pathForMessage(c: Context): string {
  return absoluteUrl(c.req.url)?.pathname ?? JSON.stringify(c.req.url);
}

const invalidTarget = (raw: string) =>
  new AppError(
    400,
    "invalid_target",
    `request target ${JSON.stringify(raw)} is not a URL this server can route (a malformed Host header?): send a path such as /api/jobs/ID/logs and Host: HOST:PORT`,
  );

/**
 * Runs first, before auth: CONNECT (we are not a proxy) is a 405 and a target that names no path a 400,
 * answered as JSON like any other refusal — before anything parses the URL and fails on it.
 */
export function targetGuard(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === "CONNECT") {
      throw new AppError(
        405,
        "method_not_allowed",
        "CONNECT is not supported: stroem-logs is not a proxy; it serves GET, HEAD, POST and PUT on its paths",
        { allow: SERVED },
      );
    }
    urlOf(c);
    return next();
  };
}
