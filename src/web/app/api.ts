// The API as the page calls it: same origin, the read token (kept in sessionStorage) as a Bearer header,
// and as the WebSocket subprotocol — never in a URL. Every request of the page goes through `request`, so a
// refusal reads the same everywhere (the error body of src/protocol, a sign-in on 401/403).
import { errorOfText } from "../../protocol/error-body.ts";
import { splitJsonl } from "./logline.ts";

const TOKEN_KEY = "stroem-logs.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called on a 401 or 403: the page asks for a token. */
let onAuth: (e: ApiError) => void = () => {};
export const setAuthHandler = (fn: (e: ApiError) => void) => {
  onAuth = fn;
};

export function authHeaders(): Record<string, string> {
  const t = token.get();
  return t === null ? {} : { authorization: `Bearer ${t}` };
}

export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  } catch (e) {
    throw new ApiError(0, "network", `cannot reach the server: ${(e as Error).message}`);
  }
  if (res.ok) return res;
  // The server's refusals carry the error body; whatever else answered (a proxy's HTML page) is named by its status.
  const text = await res.text().catch(() => "");
  const body = text.trimStart().startsWith("{") ? errorOfText(text) : null;
  const err = new ApiError(
    res.status,
    body?.code ?? "http_error",
    body === null || body.message === "" ? `${res.status} ${res.statusText}` : body.message,
  );
  if (res.status === 401 || res.status === 403) onAuth(err);
  throw err;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, signal === undefined ? {} : { signal });
  return (await res.json()) as T;
}

/** A read of the log (`/logs`, `/steps/{step}/logs`): its raw JSONL lines and where they start and stop. */
export async function readLines(path: string): Promise<{ from: number; next: number; lines: string[] }> {
  const r = await getJson<{ logs: string; from: number; next: number }>(path);
  return { from: r.from, next: r.next, lines: splitJsonl(r.logs) };
}

export interface SearchPage {
  matches: number[];
  next: number;
  done: boolean;
}

/** One page of a search (`q` or `re`, `step`, `icase`, `from`, `limit`): matching line numbers, ascending. */
export function searchPage(jobId: string, params: URLSearchParams): Promise<SearchPage> {
  return getJson<SearchPage>(`/api/jobs/${enc(jobId)}/search?${params}`);
}

/** Characters a WebSocket subprotocol may hold (an RFC 7230 token). */
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The subprotocols that carry the token to the stream; null when the token cannot travel that way. */
export function streamProtocols(): string[] | null {
  const t = token.get();
  if (t === null) return [];
  return TCHAR.test(t) ? ["stroem-logs", `bearer.${t}`] : null;
}

export const enc = encodeURIComponent;

export interface Job {
  id: string;
  workspace: string;
  task: string;
  status: string;
  error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  last_activity_at: string;
  lines: number;
  bytes: number;
  late_lines: number;
  settled: boolean;
  archive?: {
    state: string;
    key: string;
    attempts: number;
    last_error: string | null;
    uploaded_at: string | null;
    bytes: number | null;
    local_deleted: boolean;
  } | null;
}

export const TERMINAL = ["completed", "failed", "cancelled", "skipped"];
export const isTerminal = (status: string) => TERMINAL.includes(status);
