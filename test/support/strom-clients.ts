// Test support: the requests Strøm's own clients make (fremvaerk/stroem v0.15.26, db248640), byte for byte.
//
// Each function sends what the Rust or React code sends — method, path, query, headers, body bytes — through
// node:http (which adds only Host and Connection, unlike fetch), and reads the answer the way that code does:
//   worker push   crates/stroem-worker/src/client.rs:767-803 (body), executor.rs:278-285 (the buffered entry),
//                 poller.rs:18-27 (its error line), poller.rs:290-314 + 591-600 (one POST per second + a final one)
//   CLI `logs`    crates/stroem-cli/src/remote/logs.rs:7-23, remote/client.rs:5-33, stroem_api.rs:9-15
//   UI reads      ui/src/lib/api.ts:88-146 (apiFetch), 341-345 (getJobLogs), 441-448 (getStepLogs);
//                 components/step-detail.tsx:33-58, server-events.tsx:19-49, log-viewer.tsx:15-62
//   UI live hook  ui/src/hooks/use-job-logs.ts at 89ec614^ (v0.15.11; removed in v0.15.12, the UI now polls)
import http from "node:http";
import zlib from "node:zlib";
import { chronoRfc3339 } from "./strom.ts";
import { DEADLINE_MS } from "./wait.ts";

/** One entry of the worker's log buffer (executor.rs:280-284): chrono serialises `timestamp` with `Z`. */
export interface WorkerEntry {
  timestamp: string;
  stream: "stdout" | "stderr";
  line: string;
}

/**
 * A runner line's timestamp as the worker sends it: `DateTime<Utc>`'s serde form (chrono src/datetime/serde.rs:
 * `SecondsFormat::AutoSi`, `Z`), nanoseconds on Linux — `2025-02-12T10:56:45.722000001Z`.
 */
export const workerTimestamp = (date: Date, nanos: number) => chronoRfc3339(date, nanos, true);

/** The line `push_error_log` sends (poller.rs:18-27): `to_rfc3339()`, so `+00:00`, on stderr. */
export function workerErrorEntry(message: string, at: Date, nanos: number): WorkerEntry {
  return { timestamp: chronoRfc3339(at, nanos), stream: "stderr", line: message };
}

/**
 * The push body (client.rs:780-795): `serde_json::json!` without `preserve_order` is a BTreeMap, so keys come out
 * sorted — `{"lines":[{"line","stream","ts"}],"step_name"}`, compact. A missing field falls back as the code does.
 */
export function workerPushBody(step: string, entries: WorkerEntry[]): string {
  const lines = entries.map((e) =>
    JSON.stringify({ line: e.line ?? "", stream: e.stream ?? "stdout", ts: e.timestamp ?? "" }),
  );
  return `{"lines":[${lines.join(",")}],"step_name":${JSON.stringify(step)}}`;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP/1.1 request with exactly these headers (plus Host, Connection and Content-Length). */
export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  const u = new URL(url);
  const { promise, resolve, reject } = Promise.withResolvers<Answer>();
  const payload = body === undefined ? undefined : Buffer.from(body);
  const req = http.request(
    {
      host: u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      method,
      headers: payload === undefined ? headers : { ...headers, "content-length": String(payload.length) },
    },
    (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on("error", reject);
    },
  );
  req.on("error", reject);
  req.end(payload);
  return promise;
}

/**
 * `ServerClient::push_logs`: POST {server}/worker/jobs/{id}/logs, `Authorization: Bearer <worker_token>`,
 * `content-type: application/json` (reqwest `.json()`), `accept` for any type (reqwest's default header). An empty batch is
 * not sent. The worker only looks at the status: a non-2xx is logged ("Push logs failed with status …") and the
 * lines are dropped — there is no retry.
 */
export async function workerPush(
  server: string,
  workerToken: string,
  jobId: string,
  step: string,
  entries: WorkerEntry[],
): Promise<Answer & { ok: boolean }> {
  if (entries.length === 0) throw new Error("Strøm's worker never sends an empty batch (client.rs:773-775)");
  const a = await rawRequest(
    `${server}/worker/jobs/${jobId}/logs`,
    "POST",
    { authorization: `Bearer ${workerToken}`, "content-type": "application/json", accept: "*/*" },
    workerPushBody(step, entries),
  );
  return { ...a, ok: a.status >= 200 && a.status < 300 };
}

export interface CliRun {
  /** What `print!("{}", logs)` wrote. */
  stdout: string;
  /** anyhow's `Error: …` line, as `main` returning Err prints it. */
  stderr: string;
  exitCode: number;
}

/**
 * `stroem-api [--token T] logs JOB`: one GET {server}/api/jobs/{id}/logs — no query string, no paging, no timeout —
 * with `authorization: Bearer T` when a token is given (STROEM_TOKEN; a JWT or a `strm_` key) and reqwest's
 * `accept` for any type. It parses the whole body as JSON, fails on a non-2xx with the body's `error`, and prints the
 * `logs` string as it is ("" when missing). It never reads `truncated`, `next` or any other field.
 */
export async function cliLogs(server: string, jobId: string, token?: string): Promise<CliRun> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  let a: Answer;
  try {
    a = await rawRequest(`${server}/api/jobs/${jobId}/logs`, "GET", { ...headers, accept: "*/*" });
  } catch (e) {
    return {
      stdout: "",
      stderr: `Error: Failed to connect to server\n\nCaused by:\n    ${e}\n`,
      exitCode: 1,
    };
  }
  let body: unknown;
  try {
    body = JSON.parse(a.body);
  } catch {
    return { stdout: "", stderr: "Error: Failed to parse response\n", exitCode: 1 };
  }
  const o = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (a.status < 200 || a.status > 299) {
    const err = typeof o.error === "string" ? o.error : "Unknown error";
    return {
      stdout: "",
      stderr: `Error: Server returned ${a.status} ${http.STATUS_CODES[a.status] ?? ""}: ${err}\n`,
      exitCode: 1,
    };
  }
  return { stdout: typeof o.logs === "string" ? o.logs : "", stderr: "", exitCode: 0 };
}

/** What the UI's `apiFetch` does with an answer: throws `ApiError(status, body.error || statusText)` on non-2xx. */
export class UiApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `apiFetch(url)` for a GET: `Authorization: Bearer <access JWT>` when the SPA holds one, nothing else set by the
 * code (the browser adds `accept` for any type). On a 401 it refreshes the JWT (POST /api/auth/refresh with the cookie —
 * Strøm's path, not ours) and retries once: `refresh` stands for that, returning the new token or null.
 */
export async function uiFetch(
  server: string,
  path: string,
  token: string | null,
  refresh?: () => Promise<string | null>,
): Promise<unknown> {
  const get = (t: string | null) =>
    rawRequest(
      `${server}${path}`,
      "GET",
      t === null ? { accept: "*/*" } : { authorization: `Bearer ${t}`, accept: "*/*" },
    );
  let a = await get(token);
  if (a.status === 401 && refresh !== undefined) {
    const fresh = await refresh();
    if (fresh !== null) a = await get(fresh);
  }
  if (a.status < 200 || a.status > 299) {
    let err: unknown;
    try {
      err = (JSON.parse(a.body) as { error?: unknown }).error;
    } catch {}
    throw new UiApiError(
      a.status,
      typeof err === "string" && err !== "" ? err : (http.STATUS_CODES[a.status] ?? ""),
    );
  }
  if (a.status === 204 || a.headers["content-length"] === "0") return null;
  return JSON.parse(a.body);
}

/** `getStepLogs(jobId, stepName)`: the job id as it is, the step through `encodeURIComponent`. */
export function uiStepLogs(
  server: string,
  jobId: string,
  step: string,
  token: string | null = null,
): Promise<{ logs: string }> {
  return uiFetch(server, `/api/jobs/${jobId}/steps/${encodeURIComponent(step)}/logs`, token) as Promise<{
    logs: string;
  }>;
}

/** `getJobLogs(id)`. */
export function uiJobLogs(
  server: string,
  jobId: string,
  token: string | null = null,
): Promise<{ logs: string }> {
  return uiFetch(server, `/api/jobs/${jobId}/logs`, token) as Promise<{ logs: string }>;
}

export interface PaneLine {
  /** `HH:MM:SS.mmm` from `new Date(ts)`, "" when absent or unreadable. */
  time: string;
  stream: string;
  line: string;
}

/**
 * What a step pane or the Server Events card shows for a fetch: step-detail.tsx:33-50 and server-events.tsx:19-35
 * swallow any error (the pane stays empty — "Waiting for logs..."); LogViewer splits `logs` on "\n", drops empty
 * strings, and shows each JSON line's ts/stream/line (a non-JSON line as raw text, stream stdout).
 */
export async function uiPane(fetchLogs: () => Promise<{ logs: string } | null>): Promise<PaneLine[]> {
  let logs = "";
  try {
    logs = (await fetchLogs())?.logs ?? "";
  } catch {
    return [];
  }
  return logs
    .split("\n")
    .filter((l) => l.length > 0)
    .map((raw) => {
      try {
        const p = JSON.parse(raw) as Record<string, unknown>;
        if (p && typeof p.line === "string") {
          const ts = typeof p.ts === "string" ? p.ts : "";
          let time = "";
          try {
            time = ts === "" ? "" : new Date(ts).toISOString().substring(11, 23);
          } catch {}
          return {
            time,
            stream: typeof p.stream === "string" && p.stream ? p.stream : "stdout",
            line: p.line,
          };
        }
      } catch {}
      return { time: "", stream: "stdout", line: raw };
    });
}

export interface LiveHook {
  /** The text the hook holds: the REST answer, then every message appended as it came. */
  logs(): string;
  messages: string[];
  /** Resolves when the socket opened; rejects if it closed first. */
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `logs()` holds at least `n` lines; rejects after `timeoutMs` or on close short of them. */
  waitLines(n: number, timeoutMs?: number): Promise<void>;
  [Symbol.dispose](): void;
}

/**
 * The UI's live-log hook as it was until v0.15.11 (`useJobLogs`): GET /api/jobs/{id}/logs first, then — for a
 * pending or running job only — `ws://host/api/jobs/{id}/logs/stream?skip_backfill=true[&token=<JWT>]` (the
 * token through encodeURIComponent, no headers: a browser WebSocket cannot set them), appending each text
 * message to what it holds. It never sends anything and never reconnects.
 */
export async function uiLiveHookV0_15_11(
  server: string,
  jobId: string,
  token: string | null = null,
): Promise<LiveHook> {
  let text = "";
  try {
    text = (await uiJobLogs(server, jobId, token)).logs ?? "";
  } catch {}
  let url = `${server.replace(/^http/, "ws")}/api/jobs/${jobId}/logs/stream?skip_backfill=true`;
  if (token !== null) url += `&token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  const messages: string[] = [];
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<{ code: number; reason: string }>();
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const count = () => text.split("\n").filter((l) => l !== "").length;
  let isOpen = false;
  ws.addEventListener("open", () => {
    isOpen = true;
    opened.resolve();
  });
  ws.addEventListener("message", (e) => {
    messages.push(String(e.data));
    text += String(e.data);
    const n = count();
    for (let i = waiters.length - 1; i >= 0; i--) if (n >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve();
  });
  ws.addEventListener("close", (e) => {
    if (!isOpen) opened.reject(new Error(`live hook socket closed before opening (${e.code} ${e.reason})`));
    closed.resolve({ code: e.code, reason: e.reason });
  });
  opened.promise.catch(() => {});
  return {
    logs: () => text,
    messages,
    opened: opened.promise,
    closed: closed.promise,
    waitLines(n, timeoutMs = DEADLINE_MS) {
      if (count() >= n) return Promise.resolve();
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${n} lines (got ${count()})`)),
        timeoutMs,
      );
      waiters.push({ n, resolve });
      closed.promise.then((c) => {
        if (count() < n)
          reject(new Error(`socket closed (${c.code} ${c.reason}) after ${count()} of ${n} lines`));
      });
      return promise.finally(() => clearTimeout(timer));
    },
    [Symbol.dispose]() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
    },
  };
}

// ── Strøm's archive writer and reader (crates/stroem-server/src/log_storage.rs) ──────────────────────────────

/**
 * `archive_key` (log_storage.rs:72-84): `{prefix}{workspace}/{task_name}/%Y/%m/%d/%Y-%m-%dT%H-%M-%S_{job_id}.jsonl.gz`
 * from the job's created_at in UTC (whole seconds); task names keep their `/` and `:`.
 */
export function stromArchiveKey(
  prefix: string,
  job: { job_id: string; workspace: string; task_name: string; created_at: string },
): string {
  const iso = new Date(job.created_at).toISOString();
  const day = iso.slice(0, 10);
  const time = iso.slice(11, 19).replaceAll(":", "-");
  return `${prefix}${job.workspace}/${job.task_name}/${day.replaceAll("-", "/")}/${day}T${time}_${job.job_id}.jsonl.gz`;
}

/** `upload_to_archive` (log_storage.rs:268-294): the whole local file as ONE gzip member, flate2's default level 6. */
export function stromArchiveBytes(jsonl: string): Uint8Array {
  return Bun.gzipSync(Buffer.from(jsonl), { level: 6 });
}

/**
 * `get_log_from_archive` (log_storage.rs:302-323): flate2's `read::GzDecoder`, which decodes the FIRST gzip member
 * and then reports end of stream (flate2's `MultiGzDecoder` is the one that reads on), then `read_to_string`,
 * which fails on invalid UTF-8 — a member boundary inside a character. Throws as Strøm's reader errs.
 */
export function stromArchiveRead(gz: Uint8Array): string {
  const b = Buffer.from(gz);
  if (b.length < 18 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) throw new Error("invalid gzip header");
  const flg = b[3]!;
  let pos = 10;
  if (flg & 4) pos += 2 + b.readUInt16LE(pos); // FEXTRA
  if (flg & 8) pos = b.indexOf(0, pos) + 1; // FNAME
  if (flg & 16) pos = b.indexOf(0, pos) + 1; // FCOMMENT
  if (flg & 2) pos += 2; // FHCRC
  // inflateRaw stops at the end of the first deflate stream and ignores what follows (the next members).
  const raw = zlib.inflateRawSync(b.subarray(pos));
  return new TextDecoder("utf-8", { fatal: true }).decode(raw);
}

/** Rust's `str::lines()`: split on \n, drop one trailing \r per line, no empty last line after a final \n. */
function rustLines(s: string): string[] {
  const out = s.split("\n");
  if (out.at(-1) === "") out.pop();
  return out.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

/** `extract_ts` (log_storage.rs:61-67): the text after the first `"ts":"` up to the next `"`; null without one. */
function extractTs(line: string): string | null {
  const i = line.indexOf('"ts":"');
  if (i === -1) return null;
  const start = i + 6;
  const end = line.indexOf('"', start);
  return end === -1 ? null : line.slice(start, end);
}

/**
 * `merge_jsonl_logs` (log_storage.rs:31-56), Strøm's rule for a terminal job's local file and archive: the union of
 * exact lines (first occurrence kept, blank lines dropped), stably sorted by the raw `ts` text (lines without one
 * first), each ending in "\n". Raw text, not instants: `.722Z` sorts after `.722103Z`, and `+00:00` against `Z`
 * compares by characters.
 */
export function stromMerge(a: string, b: string): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const line of [...rustLines(a), ...rustLines(b)]) {
    if (line === "" || seen.has(line)) continue;
    seen.add(line);
    lines.push(line);
  }
  const keyed = lines.map((line) => ({ line, ts: extractTs(line) }));
  keyed.sort((x, y) => {
    if (x.ts === y.ts) return 0;
    if (x.ts === null) return -1;
    if (y.ts === null) return 1;
    return Buffer.compare(Buffer.from(x.ts), Buffer.from(y.ts));
  });
  return keyed.map((k) => `${k.line}\n`).join("");
}
