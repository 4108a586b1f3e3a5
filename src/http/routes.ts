// The API's routes as data: method, path, the schemas that validate them — for the 405/400 conventions and OpenAPI.
import * as v from "valibot";
import { PushBody } from "../protocol/push.ts";
import { DownloadQuery } from "./download.ts";
import { CompleteBody, EventBody, ListQuery, ReadQuery, RegisterBody } from "./params.ts";
import { SearchQuery } from "./search.ts";
import { StreamQuery } from "./stream.ts";

export type Method = "GET" | "POST" | "PUT";

/** A query schema: an object of optional string parameters (valibot's object, possibly piped). */
export type QuerySchema = v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined>;

export interface Route {
  method: Method;
  /** Hono's form: `/api/jobs/:id/logs`. */
  path: string;
  summary: string;
  /** The parameters the route takes; none when absent (any query parameter is then a 400). */
  query?: QuerySchema;
  /** The JSON body it requires. */
  body?: v.GenericSchema;
  /** What a 200 answers, for the description (the bodies are built in the routes, not validated). */
  answers?: "json" | "ndjson" | "text" | "websocket" | "prometheus";
}

/** The stream takes the token in the URL too (a browser cannot set headers on a WebSocket): see http/auth.ts. */
const StreamRouteQuery = v.object({ ...StreamQuery.entries, token: v.optional(v.string()) });

export const ROUTES: readonly Route[] = [
  { method: "GET", path: "/healthz", summary: "Liveness: the process runs", answers: "json" },
  {
    method: "GET",
    path: "/readyz",
    summary: "Readiness: 503 when the node cannot do its job",
    answers: "json",
  },
  { method: "GET", path: "/metrics", summary: "Prometheus text exposition", answers: "prometheus" },
  { method: "GET", path: "/openapi.json", summary: "This description (OpenAPI 3.1)", answers: "json" },
  { method: "GET", path: "/api/stats", summary: "Job counts by status and module sections", answers: "json" },
  {
    method: "GET",
    path: "/api/jobs",
    summary: "Jobs, newest first, a page at a time",
    query: ListQuery,
    answers: "json",
  },
  {
    method: "POST",
    path: "/api/jobs",
    summary: "Register a job under a new UUID",
    body: RegisterBody,
    answers: "json",
  },
  { method: "GET", path: "/api/jobs/:id", summary: "One job", answers: "json" },
  {
    method: "PUT",
    path: "/api/jobs/:id",
    summary: "Register (or fix) a job",
    body: RegisterBody,
    answers: "json",
  },
  {
    method: "POST",
    path: "/api/jobs/:id/events",
    summary: "Append a server event",
    body: EventBody,
    answers: "json",
  },
  {
    method: "GET",
    path: "/api/jobs/:id/logs",
    summary: "Read a job's log (Strøm's {logs}, or ndjson)",
    query: ReadQuery,
    answers: "json",
  },
  {
    method: "GET",
    path: "/api/jobs/:id/steps/:step/logs",
    summary: "Read one step's log",
    query: ReadQuery,
    answers: "json",
  },
  {
    method: "GET",
    path: "/api/jobs/:id/logs/download",
    summary: "The log as a file (jsonl or text)",
    query: DownloadQuery,
    answers: "ndjson",
  },
  {
    method: "GET",
    path: "/api/jobs/:id/logs/stream",
    summary: "Live stream (WebSocket upgrade)",
    query: StreamRouteQuery,
    answers: "websocket",
  },
  {
    method: "GET",
    path: "/api/jobs/:id/search",
    summary: "Numbers of the lines that match",
    query: SearchQuery,
    answers: "json",
  },
  {
    method: "GET",
    path: "/api/jobs/:id/steps",
    summary: "Each step with its line counts and runs",
    answers: "json",
  },
  {
    method: "POST",
    path: "/worker/jobs/:id/logs",
    summary: "Push a batch of lines (workers)",
    body: PushBody,
    answers: "json",
  },
  {
    method: "POST",
    path: "/worker/jobs/:id/complete",
    summary: "End a job with a terminal status",
    body: CompleteBody,
    answers: "json",
  },
  { method: "POST", path: "/worker/jobs/:id/heartbeat", summary: "A worker's sign of life", answers: "json" },
];

/** A path pattern as a regular expression over Hono's decoded path (a parameter is one segment). */
export function pathPattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((s) => (s.startsWith(":") ? "[^/]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}$`);
}

export type RouteMatch = { route: Route } | { allow: string[] } | null;

/**
 * The route a request names: the route itself, or the methods its path takes (a 405), or null (no such path).
 * Built once for the routes the app mounted.
 */
export function routeMatcher(routes: readonly Route[]): (method: string, path: string) => RouteMatch {
  const compiled = routes.map((r) => ({ route: r, re: pathPattern(r.path) }));
  return (method, path) => {
    const onPath = compiled.filter((c) => c.re.test(path));
    if (onPath.length === 0) return null;
    const want = method === "HEAD" ? "GET" : method;
    // A literal segment beats a parameter (`/api/jobs/:id` never shadows a literal path of the same depth).
    const hit = onPath.find((c) => c.route.method === want);
    if (hit) return { route: hit.route };
    const methods = new Set<string>();
    for (const c of onPath) {
      methods.add(c.route.method);
      if (c.route.method === "GET") methods.add("HEAD");
    }
    return { allow: [...methods].sort() };
  };
}

/** `:id` → `{id}`: the path as OpenAPI writes it. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z_]+)/g, "{$1}");
