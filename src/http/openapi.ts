// GET /openapi.json: the OpenAPI 3.1 description, made from the route table and the schemas that validate requests.
import type { Hono } from "hono";
import { isOptional, type JsonSchema, toJsonSchema } from "../core/json-schema.ts";
import { JOB_ID } from "../protocol/ids.ts";
import { VERSION } from "../version.ts";
import { mountedRoutes } from "./conventions.ts";
import { openApiPath, type Route } from "./routes.ts";

const ERROR = {
  type: "object",
  properties: { error: { type: "string" }, code: { type: "string" } },
  required: ["error", "code"],
};

const ANSWER_TYPES: Record<NonNullable<Route["answers"]>, string> = {
  json: "application/json",
  ndjson: "application/x-ndjson",
  text: "text/plain",
  websocket: "application/json",
  prometheus: "text/plain; version=0.0.4",
};

const PATH_PARAMS: Record<string, JsonSchema> = {
  id: { type: "string", pattern: JOB_ID.source },
  step: { type: "string", minLength: 1, maxLength: 256 },
};

/** The description of `routes`: one operation each, parameters and bodies from their valibot schemas. */
export function openApiDocument(routes: readonly Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters: unknown[] = [];
    for (const m of r.path.matchAll(/:([A-Za-z_]+)/g)) {
      const name = m[1]!;
      parameters.push({ name, in: "path", required: true, schema: PATH_PARAMS[name] ?? { type: "string" } });
    }
    for (const [name, schema] of Object.entries(r.query?.entries ?? {})) {
      parameters.push({ name, in: "query", required: !isOptional(schema), schema: toJsonSchema(schema) });
    }
    const answer = r.answers ?? "json";
    const op: Record<string, unknown> = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${openApiPath(r.path).replace(/[^A-Za-z0-9]+(.)?/g, (_, ch?: string) => (ch ?? "").toUpperCase())}`,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: { "application/json": { schema: toJsonSchema(r.body) } },
            },
          }),
      responses: {
        ...(answer === "websocket"
          ? { "101": { description: "Switching to the WebSocket stream" } }
          : { "200": { description: "OK", content: { [ANSWER_TYPES[answer]]: {} } } }),
        default: {
          description: "A refusal or a failure",
          content: { "application/json": { schema: ERROR } },
        },
      },
    };
    paths[openApiPath(r.path)] ??= {};
    paths[openApiPath(r.path)]![r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "stroem-logs",
      version: VERSION,
      description: "Job logs for the Strøm workflow orchestrator. Errors are {error, code}.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    paths,
  };
}

export function mountOpenApiRoute(app: Hono): void {
  let text: string | null = null;
  // Made on first request, when every route is mounted; the table does not change while the server runs.
  app.get("/openapi.json", (c) => {
    text ??= JSON.stringify(openApiDocument(mountedRoutes(app)));
    return c.body(text, 200, { "content-type": "application/json" });
  });
}
