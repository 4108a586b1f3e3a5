// Test support: a stand-in for Strøm's job API (fremvaerk/stroem v0.15.26, commit db248640), a real HTTP server on port 0.
//
// It answers as Strøm's Rust handlers do — the same status codes, `{"error": …}` bodies, field names and
// status values — for the endpoints stroem-logs needs beside a running Strøm: the job detail, the job's and a
// step's log (so the `_server` events), and `/api/config`. Followed, file by file (paths in the Strøm repo):
//   crates/stroem-server/src/web/api/mod.rs       require_auth (201-239), parse_uuid_param (138-141), routes (270-355)
//   crates/stroem-server/src/web/api/middleware.rs validate_api_key (58-112)
//   crates/stroem-server/src/auth.rs              HS256 JWTs, 15-minute TTL (30-54), validate_access_token (74-105),
//                                                 `strm_` + 32 hex keys stored as SHA-256 (126-158)
//   crates/stroem-server/src/web/api/jobs.rs      JobDetailResponse (257-281), get_job (285-469), get_step_logs
//                                                 (555-587), get_job_logs (591-623), check_job_acl (963-988)
//   crates/stroem-server/src/acl.rs               evaluate (47-108): admin → run; rules, highest action wins; default
//   crates/stroem-server/src/web/error.rs         {"error": msg}; not_found("Job") → "Job not found" (35-37, 40-79)
//   crates/stroem-server/src/state.rs             append_server_log (205-224): the `_server` line Strøm writes
//   crates/stroem-server/src/log_storage.rs       step filter (508-520); a job with no file reads as "" (371-377)
//   crates/stroem-common/src/models/job.rs        status values (9-16) and the terminal ones (56-61)
// What it leaves out: workers, steps' own lifecycle, the archive merge (Strøm reads its archive only for terminal
// jobs), the WebSocket, the SPA fallback (an unknown path here is a 404 JSON, Strøm serves index.html).
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Server } from "bun";

export type StromStatus = "pending" | "running" | "completed" | "failed" | "cancelled" | "skipped";
/** jobs.rs:36-43 (the list filter's values) = models/job.rs:9-16. */
export const STROM_STATUSES: readonly StromStatus[] = [
  "pending",
  "running",
  "completed",
  "failed",
  "cancelled",
  "skipped",
];
/** models/job.rs:56-61. */
export const STROM_TERMINAL: readonly StromStatus[] = ["completed", "failed", "cancelled", "skipped"];

export type AclAction = "run" | "view" | "deny";
/** config.rs:262-276. `tasks` defaults to ["*"]. */
export interface AclRule {
  workspace: string;
  tasks?: string[];
  action: AclAction;
  groups?: string[];
  users?: string[];
}
/** config.rs:289-296. `default` defaults to deny. */
export interface AclConfig {
  default?: AclAction;
  rules: AclRule[];
}

export interface StromUser {
  user_id: string;
  email: string;
  is_admin: boolean;
  groups: string[];
}

export interface StromStep {
  step_name: string;
  status: string;
}

export interface StromJob {
  job_id: string;
  workspace: string;
  task_name: string;
  /** As Strøm prints it: `DateTime<Utc>::to_rfc3339()` — `+00:00`, 0/3/6 fraction digits (jobs.rs:452). */
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  status: StromStatus;
  steps: StromStep[];
  /** What Strøm's own local file for the job holds (its `_server` events, beside stroem-logs). */
  log: string;
}

export interface JobSeed {
  job_id?: string;
  workspace?: string;
  task_name?: string;
  /** A Date, or Strøm's own text for it. Default: now, with microseconds as Postgres keeps them. */
  created_at?: Date | string;
  status?: StromStatus;
  steps?: string[];
}

export interface StromOptions {
  /** `auth:` configured in Strøm (default true). Without it every request passes (api/mod.rs:206-209). */
  auth?: boolean;
  /** `auth.jwt_secret`. */
  jwtSecret?: string;
  /** `acl:`; null (default) = not configured, everyone may run everything (acl.rs:60-64). */
  acl?: AclConfig | null;
}

export interface StromRequest {
  method: string;
  path: string;
  authorization: string | null;
  status: number;
}

export interface StromStandIn {
  url: string;
  port: number;
  jwtSecret: string;
  /** Every request answered (not those refused while down), in order. */
  requests: StromRequest[];
  addJob(seed?: JobSeed): StromJob;
  job(id: string): StromJob | undefined;
  /** Moves a job to `status`, stamping started_at / completed_at as Strøm's job repo does. */
  setStatus(id: string, status: StromStatus): void;
  /** Appends a server event to Strøm's own log of the job, exactly as `append_server_log` writes it; returns the line. */
  serverEvent(id: string, message: string, at?: Date): string;
  addUser(user: { email: string; is_admin?: boolean; groups?: string[] }): StromUser;
  removeUser(userId: string): void;
  /** A login JWT as Strøm mints it (HS256, sub/email/is_admin/iat/exp, 15 minutes). */
  jwt(
    user: StromUser,
    opts?: {
      expiresInSec?: number;
      aud?: string;
      secret?: string;
      omit?: Array<"sub" | "email" | "exp" | "iat">;
    },
  ): string;
  /** A `strm_` API key of `user` (stored as its SHA-256); `expiresAt` in the past makes it expired. */
  apiKey(user: StromUser, opts?: { expiresAt?: Date }): string;
  setAcl(acl: AclConfig | null): void;
  /** Stops listening (connections refused); `up()` listens again on the same port with the same state. */
  down(): Promise<void>;
  up(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
/** jsonwebtoken's `Validation::default()` leeway (seconds) on `exp`. */
const LEEWAY_SEC = 60;

/**
 * `DateTime<Utc>::to_rfc3339()` as chrono prints it: `SecondsFormat::AutoSi`, `+00:00` — no fraction, or 3, 6 or
 * 9 digits, whichever is the shortest exact one. `nanos` is the sub-second part in nanoseconds.
 */
export function chronoRfc3339(date: Date, nanos = date.getUTCMilliseconds() * 1_000_000, z = false): string {
  return `${date.toISOString().slice(0, 19)}${autoSiFraction(nanos)}${z ? "Z" : "+00:00"}`;
}

/** chrono's AutoSi fraction: none, `.mmm`, `.uuuuuu` or `.nnnnnnnnn`. */
export function autoSiFraction(nanos: number): string {
  if (nanos === 0) return "";
  if (nanos % 1_000_000 === 0) return `.${String(nanos / 1_000_000).padStart(3, "0")}`;
  if (nanos % 1000 === 0) return `.${String(nanos / 1000).padStart(6, "0")}`;
  return `.${String(nanos).padStart(9, "0")}`;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

function sign(payload: Record<string, unknown>, secret: string): string {
  const head = b64url(JSON.stringify({ typ: "JWT", alg: "HS256" }));
  const body = b64url(JSON.stringify(payload));
  const mac = createHmac("sha256", secret).update(`${head}.${body}`).digest();
  return `${head}.${body}.${b64url(mac)}`;
}

interface Claims {
  sub: string;
  email: string;
  is_admin: boolean;
  exp: number;
  iat: number;
  aud?: string;
}

/** auth.rs:74-105 with jsonwebtoken's defaults: HS256 only, `exp` required and checked with 60 s leeway; REST refuses any `aud`. */
function validateJwt(token: string, secret: string): Claims | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const [head, body, mac] = parts as [string, string, string];
  try {
    const header = JSON.parse(Buffer.from(head, "base64url").toString()) as { alg?: string };
    if (header.alg !== "HS256") return null;
    const want = createHmac("sha256", secret).update(`${head}.${body}`).digest();
    const got = Buffer.from(mac, "base64url");
    if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
    const c = JSON.parse(Buffer.from(body, "base64url").toString()) as Record<string, unknown>;
    // Claims (models/auth.rs:23-47): sub, email, exp, iat required; is_admin defaults to false.
    if (typeof c.sub !== "string" || typeof c.email !== "string") return null;
    if (typeof c.exp !== "number" || typeof c.iat !== "number") return null;
    if (c.exp + LEEWAY_SEC < Math.floor(Date.now() / 1000)) return null;
    if (c.aud !== undefined) return null; // (None, Some(a)) => bail — auth.rs:91-96
    return { sub: c.sub, email: c.email, is_admin: c.is_admin === true, exp: c.exp, iat: c.iat };
  } catch {
    return null;
  }
}

/** acl.rs:151-… `*` wildcards, exact match otherwise. */
function globMatch(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  const re = new RegExp(`^${pattern.split("*").map(escapeRe).join(".*")}$`);
  return re.test(value);
}
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const PRIORITY: Record<AclAction, number> = { deny: 1, view: 2, run: 3 };

/** acl.rs:47-108. */
function evaluate(acl: AclConfig | null, workspace: string, task: string, user: StromUser): AclAction {
  if (user.is_admin) return "run";
  if (acl === null) return "run";
  let best = 0;
  for (const rule of acl.rules) {
    if (!globMatch(rule.workspace, workspace)) continue;
    if (!(rule.tasks ?? ["*"]).some((p) => globMatch(p, task))) continue;
    const users = rule.users ?? [];
    const groups = rule.groups ?? [];
    if (!users.includes(user.email) && !groups.some((g) => user.groups.includes(g))) continue;
    best = Math.max(best, PRIORITY[rule.action]);
  }
  if (best === 3) return "run";
  if (best === 2) return "view";
  if (best === 1) return "deny";
  return acl.default ?? "deny";
}

const error = (status: number, message: string) => Response.json({ error: message }, { status });

/** Now, as Strøm prints a fresh row's created_at: Postgres keeps microseconds, so usually 6 fraction digits. */
function nowAsStrom(): string {
  const d = new Date();
  return chronoRfc3339(d, d.getUTCMilliseconds() * 1_000_000 + Math.floor(Math.random() * 1000) * 1000);
}

export async function startStrom(opts: StromOptions = {}): Promise<StromStandIn> {
  const authOn = opts.auth ?? true;
  const jwtSecret = opts.jwtSecret ?? `stand-in-${randomBytes(8).toString("hex")}`;
  let acl = opts.acl ?? null;
  const jobs = new Map<string, StromJob>();
  const users = new Map<string, StromUser>();
  const keys = new Map<string, { user_id: string; expires_at: Date | null }>();
  const requests: StromRequest[] = [];

  type Caller = { user: StromUser | null } | Response;

  /** require_auth (api/mod.rs:201-239), then the handler's `Option<AuthUser>` (middleware.rs:179-216). */
  function authenticate(req: Request): Caller {
    if (!authOn) return { user: null };
    const header = req.headers.get("authorization");
    // `strip_prefix("Bearer ")`: case- and space-exact.
    const token = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : null;
    if (token === null) return error(401, "Authentication required");
    if (token.startsWith("strm_")) {
      const row = keys.get(createHash("sha256").update(token).digest("hex"));
      if (!row) return error(401, "Invalid API key");
      if (row.expires_at !== null && row.expires_at.getTime() < Date.now())
        return error(401, "API key expired");
      const user = users.get(row.user_id);
      if (!user) return error(401, "API key user not found");
      return { user };
    }
    const claims = validateJwt(token, jwtSecret);
    if (claims === null) return error(401, "Invalid or expired token");
    // The JWT's own is_admin is what require_auth sees; check_job_acl reloads admin and groups from the DB.
    const known = users.get(claims.sub);
    return {
      user: known ?? { user_id: claims.sub, email: claims.email, is_admin: claims.is_admin, groups: [] },
    };
  }

  /** parse_uuid_param → JobRepo::get → check_job_acl (jobs.rs:290-302, 963-988). */
  function findJob(id: string, caller: { user: StromUser | null }): StromJob | Response {
    if (!UUID.test(id)) return error(400, "Invalid job ID");
    const job = jobs.get(
      id.toLowerCase().replace(/^(.{8})-?(.{4})-?(.{4})-?(.{4})-?(.{12})$/, "$1-$2-$3-$4-$5"),
    );
    if (!job) return error(404, "Job not found");
    if (caller.user !== null && acl !== null) {
      if (!UUID.test(caller.user.user_id)) return error(401, "Invalid token");
      if (evaluate(acl, job.workspace, job.task_name, caller.user) === "deny")
        return error(404, "Job not found");
    }
    return job;
  }

  /** JobDetailResponse, fields in the struct's order (jobs.rs:257-281, 437-460). */
  function detail(job: StromJob): Record<string, unknown> {
    return {
      job_id: job.job_id,
      workspace: job.workspace,
      task_name: job.task_name,
      mode: "distributed",
      input: {},
      raw_input: null,
      output: null,
      status: job.status,
      source_type: "api",
      source_id: null,
      source_job_id: null,
      restart_from_step: null,
      revision: null,
      worker_id: null,
      created_at: job.created_at,
      started_at: job.started_at,
      completed_at: job.completed_at,
      steps: job.steps.map((s) => ({
        step_name: s.step_name,
        action_name: s.step_name,
        action_type: "script",
        action_image: null,
        runner: "local",
        input: null,
        output: null,
        status: s.status,
        worker_id: null,
        started_at: null,
        completed_at: null,
        suspended_at: null,
        error_message: null,
        when_condition: null,
        for_each_expr: null,
        loop_source: null,
        loop_index: null,
        loop_total: null,
        depends_on: [],
        retry_attempt: 0,
        max_retries: null,
        retry_history: null,
        retry_at: null,
      })),
      retry_of_job_id: null,
      retry_job_id: null,
      retry_attempt: 0,
      max_retries: null,
    };
  }

  /** line_matches_step (log_storage.rs:508-520): substring pre-check, then the parsed `step` must equal. */
  function stepLines(log: string, step: string): string {
    let out = "";
    for (const line of log.split("\n")) {
      if (line === "" || !line.includes(step)) continue;
      try {
        if ((JSON.parse(line) as { step?: unknown }).step === step) out += `${line}\n`;
      } catch {}
    }
    return out;
  }

  function route(req: Request): Response {
    const url = new URL(req.url);
    const path = url.pathname;
    if (req.method === "GET" && path === "/api/config") {
      // Public (api/mod.rs:167-196).
      return Response.json({
        auth_required: authOn,
        acl_enabled: acl !== null,
        oidc_providers: [],
        has_internal_auth: authOn,
        version: "0.15.26",
      });
    }
    const m = /^\/api\/jobs\/([^/]+)(?:\/logs|\/steps\/([^/]+)\/logs)?$/.exec(path);
    if (req.method !== "GET" || m === null) return error(404, "stand-in: no such route");
    const caller = authenticate(req);
    if (caller instanceof Response) return caller;
    const job = findJob(decodeURIComponent(m[1]!), caller);
    if (job instanceof Response) return job;
    if (path.endsWith("/logs")) {
      const step = m[2] === undefined ? null : decodeURIComponent(m[2]);
      return Response.json({ logs: step === null ? job.log : stepLines(job.log, step) });
    }
    return Response.json(detail(job));
  }

  const serve = (port: number): Server<undefined> =>
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch(req) {
        const res = route(req);
        requests.push({
          method: req.method,
          path: new URL(req.url).pathname,
          authorization: req.headers.get("authorization"),
          status: res.status,
        });
        return res;
      },
    });

  let server: Server<undefined> | null = serve(0);
  const port = server.port!;

  const stand: StromStandIn = {
    url: `http://127.0.0.1:${port}`,
    port,
    jwtSecret,
    requests,
    addJob(seed = {}) {
      const created = seed.created_at ?? nowAsStrom();
      const job: StromJob = {
        job_id: seed.job_id ?? crypto.randomUUID(),
        workspace: seed.workspace ?? "default",
        task_name: seed.task_name ?? "build",
        created_at: typeof created === "string" ? created : chronoRfc3339(created),
        started_at: null,
        completed_at: null,
        status: "pending",
        steps: (seed.steps ?? ["build"]).map((step_name) => ({ step_name, status: "pending" })),
        log: "",
      };
      jobs.set(job.job_id, job);
      if (seed.status !== undefined) stand.setStatus(job.job_id, seed.status);
      return job;
    },
    job: (id) => jobs.get(id),
    setStatus(id, status) {
      const job = jobs.get(id);
      if (!job) throw new Error(`stand-in: no job ${id}`);
      job.status = status;
      const now = chronoRfc3339(new Date());
      if (status !== "pending") job.started_at ??= now;
      if (STROM_TERMINAL.includes(status)) job.completed_at ??= now;
      for (const s of job.steps)
        if (STROM_TERMINAL.includes(status) || s.status === "pending") s.status = status;
    },
    serverEvent(id, message, at = new Date()) {
      const job = jobs.get(id);
      if (!job) throw new Error(`stand-in: no job ${id}`);
      // serde_json::json! without `preserve_order` sorts keys; ts is to_rfc3339() — `+00:00` (state.rs:206-212).
      const line = JSON.stringify({
        line: message,
        step: "_server",
        stream: "stderr",
        ts: chronoRfc3339(at),
      });
      job.log += `${line}\n`;
      return line;
    },
    addUser(u) {
      const user: StromUser = {
        user_id: crypto.randomUUID(),
        email: u.email,
        is_admin: u.is_admin ?? false,
        groups: u.groups ?? [],
      };
      users.set(user.user_id, user);
      return user;
    },
    removeUser(userId) {
      users.delete(userId);
    },
    jwt(user, o = {}) {
      const iat = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        sub: user.user_id,
        email: user.email,
        is_admin: user.is_admin,
        exp: iat + (o.expiresInSec ?? 900),
        iat,
      };
      if (o.aud !== undefined) claims.aud = o.aud;
      for (const k of o.omit ?? []) delete claims[k];
      return sign(claims, o.secret ?? jwtSecret);
    },
    apiKey(user, o = {}) {
      const raw = `strm_${randomBytes(16).toString("hex")}`;
      keys.set(createHash("sha256").update(raw).digest("hex"), {
        user_id: user.user_id,
        expires_at: o.expiresAt ?? null,
      });
      return raw;
    },
    setAcl(next) {
      acl = next;
    },
    async down() {
      await server?.stop(true);
      server = null;
    },
    async up() {
      if (server === null) server = serve(port);
    },
    async [Symbol.asyncDispose]() {
      await stand.down();
    },
  };
  return stand;
}
