// The Strøm API client of Strøm mode: a job's detail and `_server` events, and whether a caller may read a job.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { UsageError } from "../errors.ts";
import { ErrorBody, firstIssue, JobDetail, jobInfo, LogsBody, logLines, type StromJobInfo } from "./body.ts";
import { createTtlLru } from "./cache.ts";

/**
 * Why a question to Strøm got no answer. `refused`: Strøm turned down stroem-logs' own token (a config problem);
 * the others mean Strøm is down or broken, and the question is asked again later.
 */
export type StromFailure = "unreachable" | "timeout" | "refused" | "server_error" | "bad_answer";

export class StromError extends Error {
  constructor(
    readonly reason: StromFailure,
    message: string,
  ) {
    super(message);
    this.name = "StromError";
  }
}

/**
 * Strøm's answer to "may this caller read this job", as its log handlers decide it (auth, then the ACL's
 * "not deny"). `deny` covers an unknown job and a denied one alike, as Strøm's 404 does; `unauthenticated` is
 * Strøm's 401, passed on so the UI refreshes its JWT and retries; `unavailable`: fail closed (a 503).
 */
export type ReadVerdict =
  | { verdict: "allow" }
  | { verdict: "deny" }
  | { verdict: "unauthenticated"; message: string }
  | { verdict: "unavailable"; message: string };

export interface StromClientOptions {
  apiUrl: string;
  /** stroem-logs' own credential for Strøm (a `strm_` key); null when Strøm runs without auth. */
  token: string | null;
  requestTimeoutMs: number;
  authCacheTtlMs: number;
  authCacheNegativeTtlMs: number;
  authCacheSize: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface StromClient {
  /** The job as Strøm knows it; null when Strøm does not (404, or an id that is not Strøm's: 400). Throws StromError. */
  getJob(id: string): Promise<StromJobInfo | null>;
  /** Strøm's own `_server` lines of the job, exactly as Strøm holds them; null for a job Strøm does not know. Throws StromError. */
  serverEvents(id: string): Promise<string[] | null>;
  /** Forwards the caller's `Authorization` header verbatim; never throws. Cached per (credential, job). */
  mayRead(authorization: string, jobId: string): Promise<ReadVerdict>;
}

/** A JWT's `exp` in ms (unverified: only to never cache a grant past it), or null for a `strm_` key or garbage. */
function jwtExpiry(authorization: string): number | null {
  const token = authorization.startsWith("Bearer ") ? authorization.slice(7) : authorization;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const exp = (JSON.parse(Buffer.from(parts[1]!, "base64url").toString()) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

export function createStromClient(o: StromClientOptions): StromClient {
  const doFetch = o.fetch ?? fetch;
  const now = o.now ?? Date.now;
  const verdicts = createTtlLru<ReadVerdict>(o.authCacheSize, now);
  const inFlight = new Map<string, Promise<ReadVerdict>>();

  async function get(path: string, authorization: string | null): Promise<{ url: string; res: Response }> {
    const url = `${o.apiUrl}${path}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (authorization !== null) headers.authorization = authorization;
    try {
      const res = await doFetch(url, {
        headers,
        redirect: "manual",
        signal: AbortSignal.timeout(o.requestTimeoutMs),
      });
      return { url, res };
    } catch (e) {
      throw failure(url, e);
    }
  }

  function failure(url: string, e: unknown): StromError {
    const err = e as { name?: string; code?: string; message?: string };
    if (err.name === "TimeoutError" || err.name === "AbortError")
      return new StromError(
        "timeout",
        `GET ${url}: Strøm did not answer within ${o.requestTimeoutMs} ms (strom.request_timeout)`,
      );
    return new StromError(
      "unreachable",
      `GET ${url}: Strøm is unreachable (${err.code ?? err.message ?? String(e)})`,
    );
  }

  async function body(url: string, res: Response): Promise<unknown> {
    try {
      return await res.json();
    } catch (e) {
      if ((e as { name?: string }).name === "TimeoutError") throw failure(url, e);
      throw new StromError(
        "bad_answer",
        `GET ${url}: Strøm answered ${res.status} with a body that is not JSON`,
      );
    }
  }

  async function errorText(res: Response): Promise<string> {
    const parsed = v.safeParse(ErrorBody, await res.json().catch(() => null));
    return parsed.success ? parsed.output.error : res.statusText || `status ${res.status}`;
  }

  /** A question stroem-logs asks with its own token: null on 404/400, the parsed body on 200. */
  async function ask<T extends v.GenericSchema>(path: string, schema: T): Promise<v.InferOutput<T> | null> {
    const { url, res } = await get(path, o.token === null ? null : `Bearer ${o.token}`);
    if (res.status === 404 || res.status === 400) {
      await res.body?.cancel();
      return null;
    }
    if (res.status === 401 || res.status === 403) {
      throw new StromError(
        "refused",
        `GET ${url}: Strøm refused strom.token (${res.status} ${await errorText(res)}): ` +
          "it must be a valid strm_ key of a user who may view every job",
      );
    }
    if (res.status !== 200) {
      throw new StromError(
        "server_error",
        `GET ${url}: Strøm answered ${res.status} ${await errorText(res)}`,
      );
    }
    const parsed = v.safeParse(schema, await body(url, res));
    if (!parsed.success)
      throw new StromError(
        "bad_answer",
        `GET ${url}: unexpected body from Strøm: ${firstIssue(parsed.issues)}`,
      );
    return parsed.output;
  }

  async function askVerdict(authorization: string, jobId: string): Promise<ReadVerdict> {
    let res: Response;
    try {
      ({ res } = await get(`/api/jobs/${encodeURIComponent(jobId)}`, authorization));
    } catch (e) {
      return { verdict: "unavailable", message: (e as Error).message };
    }
    if (res.status === 200 || res.status === 404 || res.status === 400 || res.status === 403) {
      await res.body?.cancel();
      return { verdict: res.status === 200 ? "allow" : "deny" };
    }
    if (res.status === 401) return { verdict: "unauthenticated", message: await errorText(res) };
    return {
      verdict: "unavailable",
      message: `GET ${o.apiUrl}/api/jobs/${jobId}: Strøm answered ${res.status} ${await errorText(res)}`,
    };
  }

  return {
    async getJob(id) {
      const detail = await ask(`/api/jobs/${encodeURIComponent(id)}`, JobDetail);
      return detail === null ? null : jobInfo(detail);
    },
    async serverEvents(id) {
      const logs = await ask(`/api/jobs/${encodeURIComponent(id)}/steps/_server/logs`, LogsBody);
      return logs === null ? null : logLines(logs.logs);
    },
    mayRead(authorization, jobId) {
      // The credential itself is never kept: only its digest.
      const key = `${createHash("sha256").update(authorization).digest("hex")} ${jobId}`;
      const cached = verdicts.get(key);
      if (cached !== undefined) return Promise.resolve(cached);
      const pending = inFlight.get(key);
      if (pending !== undefined) return pending;
      const p = askVerdict(authorization, jobId).then((r) => {
        inFlight.delete(key);
        if (r.verdict === "allow") {
          const exp = jwtExpiry(authorization);
          verdicts.set(key, r, Math.min(o.authCacheTtlMs, exp === null ? Infinity : exp - now()));
        } else if (r.verdict !== "unavailable") {
          verdicts.set(key, r, o.authCacheNegativeTtlMs);
        }
        return r;
      });
      inFlight.set(key, p);
      return p;
    },
  };
}

type StromSection = NonNullable<Config["strom"]>;

/** The client for the config's `strom:` section; the token file is read once, here (a restart re-reads it). */
export function stromClientFromConfig(
  section: StromSection,
  deps: { fetch?: typeof fetch; now?: () => number } = {},
): StromClient {
  let token = section.token ?? null;
  if (section.token_file !== undefined) {
    let text: string;
    try {
      text = readFileSync(section.token_file, "utf8");
    } catch (e) {
      throw new UsageError(
        `strom.token_file: cannot read ${section.token_file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    token =
      text
        .split(/\r?\n/)
        .find((l) => l.trim() !== "")
        ?.trim() ?? null;
    if (token === null) throw new UsageError(`strom.token_file: ${section.token_file} holds no token`);
  }
  return createStromClient({
    apiUrl: section.api_url,
    token,
    requestTimeoutMs: section.request_timeout,
    authCacheTtlMs: section.auth_cache_ttl,
    authCacheNegativeTtlMs: section.auth_cache_negative_ttl,
    authCacheSize: section.auth_cache_size,
    ...deps,
  });
}
