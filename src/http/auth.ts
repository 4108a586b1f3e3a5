// The auth middleware: 401 without a token, 403 with a wrong one, checked before any route (and any upgrade).
import type { MiddlewareHandler } from "hono";
import { accessOf, type Tokens } from "../auth/tokens.ts";
import { AppError } from "../errors.ts";
import type { StromClient } from "../strom/client.ts";
import { authoriseByStrom, stromReadTarget } from "./strom-auth.ts";
import { urlOf } from "./target.ts";

const STREAM_PATH = /^\/api\/jobs\/[^/]+\/logs\/stream$/;

/** The presented token: `Authorization: Bearer`, or for the stream `?token=` / `Sec-WebSocket-Protocol: bearer.<t>`. */
export function presentedToken(path: string, headers: Headers, url: URL): string | null {
  const auth = headers.get("authorization");
  if (auth !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1]! : "";
  }
  if (!STREAM_PATH.test(path)) return null;
  // Browsers cannot set headers on a WebSocket: accept the query parameter and the subprotocol form.
  const query = url.searchParams.get("token");
  if (query !== null) return query;
  const protocols = headers.get("sec-websocket-protocol");
  if (protocols !== null) {
    for (const p of protocols.split(",")) {
      const t = p.trim();
      if (t.startsWith("bearer.")) return t.slice("bearer.".length);
    }
  }
  return null;
}

export function authMiddleware(
  tokens: Tokens,
  strom: Pick<StromClient, "mayRead"> | null = null,
): MiddlewareHandler {
  return async (c, next) => {
    if (!tokens.enabled) return next();
    const url = urlOf(c);
    // c.req.path is the decoded path Hono routes on: classing the raw pathname would let `/%77orker/…` in.
    const path = c.req.path;
    const access = accessOf(c.req.method, path);
    const presented = presentedToken(path, c.req.raw.headers, url);
    const verdict = tokens.check(access, presented);
    if (verdict !== "ok" && strom !== null) {
      const job = stromReadTarget(c.req.method, path, presented);
      if (job !== null) {
        await authoriseByStrom(strom, job, presented!);
        return next();
      }
    }
    if (verdict === "missing") {
      throw new AppError(
        401,
        "unauthorized",
        `a ${access} token is required: send Authorization: Bearer <token>`,
        {
          "WWW-Authenticate": 'Bearer realm="stroem-logs"',
        },
      );
    }
    if (verdict === "wrong") {
      throw new AppError(403, "forbidden", `the token presented is not valid for ${access}`);
    }
    return next();
  };
}
