// HTTP conventions, in process: 405 with Allow, 415, unknown query parameters, the jobs list's cursor, OpenAPI.
import { describe, expect, test } from "bun:test";
import { mountedRoutes } from "../../src/http/conventions.ts";
import { ROUTES } from "../../src/http/routes.ts";
import { startTestApp } from "../support/app.ts";

const TS = "2025-02-12T10:56:45.123Z";
const push = { step_name: "build", lines: [{ ts: TS, stream: "stdout", line: "x" }] };

/** A concrete path for a route's pattern. */
const concrete = (path: string) => path.replace(":id", "j").replace(":step", "build");

describe("a wrong method", () => {
  test("on a path some route serves is a 405 whose Allow lists the methods of that path", async () => {
    await using app = await startTestApp();
    const got = [];
    for (const [method, path] of [
      ["DELETE", "/api/jobs/j"],
      ["PATCH", "/worker/jobs/j/logs"],
      ["POST", "/api/jobs/j/logs"],
      ["DELETE", "/api/jobs"],
      ["OPTIONS", "/api/jobs/j/steps/build/logs"],
      ["PUT", "/healthz"],
    ] as const) {
      const res = await app.request(path, { method });
      got.push([method, path, res.status, res.headers.get("allow"), await res.json()]);
    }
    const refusal = (method: string, path: string, allow: string) => ({
      error: `${method} is not allowed on ${path}: it takes ${allow}`,
      code: "method_not_allowed",
    });
    expect(got).toEqual([
      ["DELETE", "/api/jobs/j", 405, "GET, HEAD, PUT", refusal("DELETE", "/api/jobs/j", "GET, HEAD, PUT")],
      ["PATCH", "/worker/jobs/j/logs", 405, "POST", refusal("PATCH", "/worker/jobs/j/logs", "POST")],
      ["POST", "/api/jobs/j/logs", 405, "GET, HEAD", refusal("POST", "/api/jobs/j/logs", "GET, HEAD")],
      ["DELETE", "/api/jobs", 405, "GET, HEAD, POST", refusal("DELETE", "/api/jobs", "GET, HEAD, POST")],
      [
        "OPTIONS",
        "/api/jobs/j/steps/build/logs",
        405,
        "GET, HEAD",
        refusal("OPTIONS", "/api/jobs/j/steps/build/logs", "GET, HEAD"),
      ],
      ["PUT", "/healthz", 405, "GET, HEAD", refusal("PUT", "/healthz", "GET, HEAD")],
    ]);
  });

  test("a path no route serves is still a 404, and a wrong method writes nothing", async () => {
    await using app = await startTestApp();
    const nowhere = await app.request("/api/nothing", { method: "DELETE" });
    const put = await app.request("/worker/jobs/j/logs", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(push),
    });
    expect([
      nowhere.status,
      ((await nowhere.json()) as { code: string }).code,
      put.status,
      (await app.request("/api/jobs/j")).status,
    ]).toEqual([404, "no_route", 405, 404]);
  });
});

describe("a body that is not JSON", () => {
  test("declared as another type is a 415 naming the type, and nothing is written", async () => {
    await using app = await startTestApp();
    const got = [];
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]) {
      const res = await app.request("/worker/jobs/j/logs", {
        method: "POST",
        headers: { "content-type": type },
        body: JSON.stringify(push),
      });
      got.push([res.status, res.headers.get("accept"), await res.json()]);
    }
    expect(got).toEqual(
      ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"].map((type) => [
        415,
        "application/json",
        {
          error: `Content-Type ${JSON.stringify(type)} is not JSON: send the body as application/json`,
          code: "unsupported_media_type",
        },
      ]),
    );
    expect((await app.request("/api/jobs/j")).status).toBe(404);
  });

  test("every route that takes a body refuses another type the same way", async () => {
    await using app = await startTestApp();
    const got = [];
    for (const r of mountedRoutes(app.app).filter((r) => r.body !== undefined)) {
      const res = await app.request(concrete(r.path), {
        method: r.method,
        headers: { "content-type": "text/plain" },
        body: "{}",
      });
      got.push([r.method, r.path, res.status]);
    }
    expect(got).toEqual(ROUTES.filter((r) => r.body !== undefined).map((r) => [r.method, r.path, 415]));
  });

  test("JSON types with parameters or a +json suffix, and no type at all, are read as JSON", async () => {
    await using app = await startTestApp();
    const got = [];
    for (const headers of [
      { "content-type": "application/json; charset=utf-8" },
      { "content-type": "Application/JSON" },
      { "content-type": "application/vnd.stroem+json" },
      {} as Record<string, string>,
    ]) {
      const res = await app.request("/worker/jobs/j/logs", {
        method: "POST",
        headers,
        body: JSON.stringify(push),
      });
      got.push(res.status);
    }
    expect(got).toEqual([200, 200, 200, 200]);
  });
});

describe("query parameters", () => {
  test("a parameter a route does not take is a 400 naming it and what the route takes, on every route", async () => {
    await using app = await startTestApp();
    const routes = mountedRoutes(app.app);
    const got = [];
    for (const r of routes) {
      const res = await app.request(`${concrete(r.path)}?bogus=1&limit=5`, { method: r.method });
      const body = (await res.json()) as { error: string; code: string };
      got.push([r.method, r.path, res.status, body.code, body.error.split(":")[0]]);
    }
    expect(got).toEqual(
      routes.map((r) => {
        const takesLimit = r.query !== undefined && "limit" in r.query.entries;
        return [
          r.method,
          r.path,
          400,
          "invalid_query",
          `unknown query parameter${takesLimit ? "" : "s"} "bogus"${takesLimit ? "" : ', "limit"'}`,
        ];
      }),
    );
    // Every route of the table is mounted in a full service: none escapes the check.
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`));
  });

  test("the message lists what the route takes (a misspelt limit is not silently ignored)", async () => {
    await using app = await startTestApp();
    const res = await app.request("/api/jobs/j/logs?lmit=10");
    expect([res.status, await res.json()]).toEqual([
      400,
      {
        error:
          'unknown query parameter "lmit": GET /api/jobs/{id}/logs takes from, limit, tail, stream, format, since, until, q, re, icase',
        code: "invalid_query",
      },
    ]);
    const none = await app.request("/healthz?verbose=1");
    expect([none.status, ((await none.json()) as { error: string }).error]).toEqual([
      400,
      'unknown query parameter "verbose": GET /healthz takes none',
    ]);
  });

  test("the stream's token parameter is known there (and only there)", async () => {
    await using app = await startTestApp();
    const stream = await app.request("/api/jobs/j/logs/stream?token=t&from=0");
    const logs = await app.request("/api/jobs/j/logs?token=t");
    expect([
      stream.status,
      ((await stream.json()) as { code: string }).code,
      logs.status,
      ((await logs.json()) as { code: string }).code,
    ]).toEqual([426, "upgrade_required", 400, "invalid_query"]);
  });
});

describe("the jobs list", () => {
  test("pages with an opaque cursor through every job once, newest first, ties by id, until next_cursor is null", async () => {
    await using app = await startTestApp();
    const t = (s: number) => new Date(Date.UTC(2025, 1, 12, 10, 0, s)).toISOString();
    // Three jobs share one creation time: a keyset on the time alone would skip or repeat them.
    const created = { a: t(1), b: t(2), c: t(3), d: t(3), e: t(3), f: t(4), g: t(5) };
    for (const [id, at] of Object.entries(created)) {
      const res = await app.request(`/api/jobs/${id}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ workspace: "w", task: "t", created_at: at }),
      });
      expect(res.status).toBe(201);
    }
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const res = await app.request(`/api/jobs?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`);
      const body = (await res.json()) as { jobs: { id: string }[]; next_cursor: string | null };
      pages.push(body.jobs.map((j) => j.id));
      cursor = body.next_cursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages).toEqual([["g", "f"], ["e", "d"], ["c", "b"], ["a"]]);
    // A page that ends exactly at the last job says so: no empty page after it.
    const all = (await (await app.request("/api/jobs?limit=7")).json()) as { next_cursor: unknown };
    expect(all.next_cursor).toBeNull();
  });

  test("a limit over 1000, a limit of 0 and a cursor this server did not give are 400s", async () => {
    await using app = await startTestApp();
    const got = [];
    for (const q of ["limit=1001", "limit=0", "cursor=nonsense", "cursor="]) {
      const res = await app.request(`/api/jobs?${q}`);
      got.push([q, res.status, await res.json()]);
    }
    expect(got).toEqual([
      [
        "limit=1001",
        400,
        { error: "limit: must be at most 1000 (got 1001): page with cursor", code: "invalid_query" },
      ],
      ["limit=0", 400, { error: "limit: must be at least 1", code: "invalid_query" }],
      [
        "cursor=nonsense",
        400,
        {
          error:
            'cursor: not a cursor this server gave (got "nonsense"): pass next_cursor from a previous page as is',
          code: "invalid_cursor",
        },
      ],
      ["cursor=", 400, { error: "cursor: must not be empty", code: "invalid_query" }],
    ]);
  });
});

describe("GET /openapi.json", () => {
  test("describes exactly the routes the app serves, with parameters and bodies from their schemas", async () => {
    await using app = await startTestApp();
    const res = await app.request("/openapi.json");
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; in: string }[];
            requestBody?: { content: Record<string, { schema: unknown }> };
          }
        >
      >;
    };
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    // What Hono routes: every handler but middleware (method ALL).
    const served = [
      ...new Set(
        app.app.routes
          .filter((r) => r.method !== "ALL")
          .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`),
      ),
    ].sort();
    expect([res.status, doc.openapi, documented]).toEqual([200, "3.1.0", served]);

    const read = doc.paths["/api/jobs/{id}/logs"]!.get!;
    expect(read.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual([
      "path:id",
      ...["from", "limit", "tail", "stream", "format", "since", "until", "q", "re", "icase"].map(
        (n) => `query:${n}`,
      ),
    ]);
    const pushBody =
      doc.paths["/worker/jobs/{id}/logs"]!.post!.requestBody!.content["application/json"]!.schema;
    expect(pushBody).toEqual({
      type: "object",
      properties: {
        step_name: { type: "string", minLength: 1, maxLength: 256 },
        lines: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            properties: {
              ts: { type: "string" },
              stream: { enum: ["stdout", "stderr"] },
              line: { type: "string" },
            },
            required: ["stream", "line"],
            additionalProperties: false,
          },
        },
        batch_id: { type: "string", minLength: 1, maxLength: 200 },
      },
      required: ["step_name", "lines"],
      additionalProperties: false,
    });
  });
});
