// HTTP conventions for every route of the table: a wrong method is a 405 with `Allow`, an unknown query parameter a 400.
import type { Hono, MiddlewareHandler } from "hono";
import { AppError, badRequest } from "../errors.ts";
import { openApiPath, ROUTES, type Route, routeMatcher } from "./routes.ts";

/** The routes of the table that `app` has mounted (some are optional: metrics, stream, search, steps). */
export function mountedRoutes(app: Hono): Route[] {
  const mounted = new Set(app.routes.map((r) => `${r.method} ${r.path}`));
  return ROUTES.filter((r) => mounted.has(`${r.method} ${r.path}`));
}

/**
 * Runs before the routes. A path no route serves falls through to the 404; a path served by other methods is
 * a 405 naming them; a parameter the route does not take is a 400 naming it (a misspelt `lmit=10` would
 * otherwise be ignored and the answer look right). The table is read on the first request, once every
 * route is mounted.
 */
export function conventions(app: Hono): MiddlewareHandler {
  let match: ReturnType<typeof routeMatcher> | null = null;
  return async (c, next) => {
    match ??= routeMatcher(mountedRoutes(app));
    const m = match(c.req.method, c.req.path);
    if (m === null) return next();
    if ("allow" in m) {
      const allow = m.allow.join(", ");
      throw new AppError(
        405,
        "method_not_allowed",
        `${c.req.method} is not allowed on ${c.req.path}: it takes ${allow}`,
        { allow },
      );
    }
    const unknown = unknownParams(m.route, Object.keys(c.req.queries()));
    if (unknown.length > 0) {
      const known = Object.keys(m.route.query?.entries ?? {});
      const names = unknown.map((k) => JSON.stringify(k)).join(", ");
      throw badRequest(
        `unknown query parameter${unknown.length > 1 ? "s" : ""} ${names}: ${m.route.method} ${openApiPath(m.route.path)} ${
          known.length === 0 ? "takes none" : `takes ${known.join(", ")}`
        }`,
        "invalid_query",
      );
    }
    return next();
  };
}

export function unknownParams(route: Route, keys: readonly string[]): string[] {
  const known = route.query?.entries ?? {};
  return keys.filter((k) => !Object.hasOwn(known, k));
}
