// Who may do what: the configured tokens (inline or from files), route classes and constant-time checks.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import { UsageError } from "../errors.ts";

export type Access = "open" | "metrics" | "read" | "write";
export type Verdict = "ok" | "missing" | "wrong";

export interface Tokens {
  /** False when no token is configured: every route is open (loopback only, or allow_anonymous). */
  readonly enabled: boolean;
  check(access: Access, presented: string | null): Verdict;
  /** SHA-256 digests (hex) of the tokens of each kind, to tell what a reload changed without the tokens. */
  readonly digests: {
    readonly worker: readonly string[];
    readonly read: readonly string[];
    readonly metrics: readonly string[];
  };
}

/** Tokens that a SIGHUP reload replaces at once; requests already past auth are not affected. */
export interface SwappableTokens extends Tokens {
  swap(next: Tokens): void;
}

export function swappableTokens(initial: Tokens): SwappableTokens {
  let current = initial;
  return {
    get enabled() {
      return current.enabled;
    },
    get digests() {
      return current.digests;
    },
    check: (access, presented) => current.check(access, presented),
    swap(next) {
      current = next;
    },
  };
}

/** What changed between two token sets, in words that name no token: `read tokens: 2 → 3 (1 added)`. */
export function describeTokenChange(before: Tokens, after: Tokens): string[] {
  const out: string[] = [];
  if (before.enabled !== after.enabled) out.push(after.enabled ? "auth turned on" : "auth turned off");
  const kinds = [
    ["worker", "worker token"],
    ["read", "read tokens"],
    ["metrics", "metrics tokens"],
  ] as const;
  for (const [kind, name] of kinds) {
    const a = new Set(before.digests[kind]);
    const b = new Set(after.digests[kind]);
    const added = [...b].filter((d) => !a.has(d)).length;
    const removed = [...a].filter((d) => !b.has(d)).length;
    if (added === 0 && removed === 0) continue;
    if (kind === "worker")
      out.push(
        b.size === 0 ? "worker token removed" : a.size === 0 ? "worker token set" : "worker token changed",
      );
    else out.push(`${name}: ${a.size} → ${b.size} (${added} added, ${removed} removed)`);
  }
  return out;
}

const digest = (token: string) => createHash("sha256").update(token).digest();

/** Compares digests, so neither the length nor the content of a token leaks through timing. */
function matchesAny(presented: string, accepted: readonly Buffer[]): boolean {
  const d = digest(presented);
  let hit = false;
  for (const a of accepted) hit = timingSafeEqual(d, a) || hit;
  return hit;
}

/** `metrics` tokens open `GET /metrics` only; every read token (the worker's included) opens it too. */
export function createTokens(
  worker: string | undefined,
  readers: readonly string[],
  metrics: readonly string[] = [],
): Tokens {
  const workerDigests = worker === undefined ? [] : [digest(worker)];
  const readDigests = [...workerDigests, ...readers.map(digest)];
  const metricsDigests = [...readDigests, ...metrics.map(digest)];
  const enabled = readDigests.length > 0;
  const accepted = { write: workerDigests, read: readDigests, metrics: metricsDigests };
  const hex = (ts: readonly string[]) => [...new Set(ts.map((t) => digest(t).toString("hex")))];
  return {
    enabled,
    digests: { worker: hex(worker === undefined ? [] : [worker]), read: hex(readers), metrics: hex(metrics) },
    check(access, presented) {
      if (access === "open" || !enabled) return "ok";
      if (presented === null || presented === "") return "missing";
      return matchesAny(presented, accepted[access]) ? "ok" : "wrong";
    },
  };
}

function readTokenFile(path: string, field: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(
      `auth.${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#"));
}

/** Resolves the tokens at start-up; a config that would leave the server open on the network is refused. */
export function tokensFromConfig(config: Config, hostname: string): Tokens {
  const auth = config.auth;
  if (auth.worker_token !== undefined && auth.worker_token_file !== undefined) {
    throw new UsageError("auth: set worker_token or worker_token_file, not both");
  }
  const worker =
    auth.worker_token ??
    (auth.worker_token_file !== undefined
      ? readTokenFile(auth.worker_token_file, "worker_token_file")[0]
      : undefined);
  if (auth.worker_token_file !== undefined && worker === undefined) {
    throw new UsageError(`auth.worker_token_file: ${auth.worker_token_file} holds no token`);
  }
  const readers = [
    ...auth.read_tokens,
    ...(auth.read_tokens_file !== undefined ? readTokenFile(auth.read_tokens_file, "read_tokens_file") : []),
  ];
  if (readers.length > 0 && worker === undefined) {
    throw new UsageError(
      "auth.worker_token: required when read tokens are set (otherwise nobody could write)",
    );
  }
  if (auth.metrics_token !== undefined && auth.metrics_token_file !== undefined) {
    throw new UsageError("auth: set metrics_token or metrics_token_file, not both");
  }
  const metrics =
    auth.metrics_token !== undefined
      ? [auth.metrics_token]
      : auth.metrics_token_file !== undefined
        ? readTokenFile(auth.metrics_token_file, "metrics_token_file").slice(0, 1)
        : [];
  if (auth.metrics_token_file !== undefined && metrics.length === 0) {
    throw new UsageError(`auth.metrics_token_file: ${auth.metrics_token_file} holds no token`);
  }
  if (metrics.length > 0 && worker === undefined) {
    // Without a worker token the server is open, /metrics included: a metrics token would guard nothing.
    throw new UsageError("auth.worker_token: required when a metrics token is set (auth is off without it)");
  }
  const tokens = createTokens(worker, readers, metrics);
  if (!tokens.enabled && !auth.allow_anonymous && !isLoopback(hostname)) {
    throw new UsageError(
      `refusing to serve on ${hostname} without tokens: anyone on the network could read and write logs.\n` +
        "  Set auth.worker_token (env STROEM__AUTH__WORKER_TOKEN, or auth.worker_token_file) and auth.read_tokens,\n" +
        "  or listen on 127.0.0.1, or set auth.allow_anonymous: true deliberately.",
    );
  }
  return tokens;
}

const SECRET_FILES = ["worker_token_file", "read_tokens_file", "metrics_token_file"] as const;

/**
 * Secret files other users may read: `auth.worker_token_file: /etc/stroem-logs/worker-token is readable by
 * group and others (mode 0644): chmod 600 it`. Missing files are the token loader's error, not a warning.
 */
export function secretFileWarnings(config: Config): string[] {
  const out: string[] = [];
  const files: Array<[string, string | undefined]> = [
    ...SECRET_FILES.map((f): [string, string | undefined] => [`auth.${f}`, config.auth[f]]),
    ["masking.key_file", config.masking.key_file],
  ];
  for (const [field, path] of files) {
    if (path === undefined) continue;
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch {
      continue;
    }
    const who = [mode & 0o040 ? "group" : null, mode & 0o004 ? "others" : null].filter((w) => w !== null);
    if (who.length === 0) continue;
    out.push(
      `${field}: ${path} is readable by ${who.join(" and ")} (mode ${mode.toString(8).padStart(4, "0")}): chmod 600 it`,
    );
  }
  return out;
}

export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * What a request needs, deny by default: only the health probes are open; `GET /metrics` takes a metrics or
 * a read token; anything under /worker/ and every non-GET needs the worker token; every other GET needs a
 * read token. `path` must be the decoded
 * path the router matches on (a percent-encoded `/%77orker/` is the same route as `/worker/`).
 */
export function accessOf(method: string, path: string): Access {
  if ((method === "GET" || method === "HEAD") && (path === "/healthz" || path === "/readyz")) return "open";
  if ((method === "GET" || method === "HEAD") && path === "/metrics") return "metrics";
  if (path.startsWith("/worker/")) return "write";
  return method === "GET" || method === "HEAD" ? "read" : "write";
}
