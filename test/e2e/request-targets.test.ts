// Every method and request-target form, sent raw over TCP to a server process: a JSON 4xx, and no stack trace logged.
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { spawnServer } from "../support/process.ts";
import { waitFor } from "../support/wait.ts";

interface Answer {
  status: number;
  type: string | null;
  body: unknown;
}

/** Sends `head` (the request line and headers, without the blank line) and reads the answer to its end. */
function raw(url: string, head: string): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let text = "";
    const sock = connect(Number(port), hostname, () => sock.write(`${head}\r\nConnection: close\r\n\r\n`));
    sock.on("data", (d) => {
      text += d.toString();
    });
    sock.on("close", () => resolve({ text, closed: true }));
    sock.on("error", reject);
  });
}

function parseAnswer(text: string): Answer {
  const [head = "", body = ""] = text.split("\r\n\r\n");
  const lines = head.split("\r\n");
  const status = Number(lines[0]?.split(" ")[1]);
  const type = lines.find((l) => /^content-type:/i.test(l))?.replace(/^content-type:\s*/i, "") ?? null;
  let parsed: unknown = body.slice(0, 80); // enough to tell Bun's HTML error page
  try {
    parsed = JSON.parse(body);
  } catch {}
  return { status, type, body: parsed };
}

const jsonError = (status: number, code: string): Answer => ({
  status,
  type: "application/json",
  body: { error: expect.any(String), code },
});

const healthy: Answer = { status: 200, type: "application/json", body: { status: "ok" } };

/** Request lines our handler answers, and what it answers (without a token; auth runs after the target check). */
const handled: Array<[string, Answer, Answer]> = [
  // [request line and headers, answer without auth, answer with auth and no token]
  [
    "CONNECT x HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(405, "method_not_allowed"),
  ],
  [
    "CONNECT * HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(405, "method_not_allowed"),
  ],
  [
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443",
    jsonError(405, "method_not_allowed"),
    jsonError(405, "method_not_allowed"),
  ],
  [
    "CONNECT [::1]:80 HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(405, "method_not_allowed"),
  ],
  [
    "CONNECT http://x/api/jobs HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(405, "method_not_allowed"),
  ],
  // No usable Host: Bun hands over the bare path, which is still the path.
  ["GET /nowhere HTTP/1.0", jsonError(404, "no_route"), jsonError(401, "unauthorized")],
  ["GET /api/jobs/j HTTP/1.1\r\nHost: a b", jsonError(404, "not_found"), jsonError(401, "unauthorized")],
  ["GET /x HTTP/1.1\r\nHost: [zz", jsonError(400, "invalid_target"), jsonError(400, "invalid_target")],
  ["TRACE / HTTP/1.1\r\nHost: a", jsonError(404, "no_route"), jsonError(401, "unauthorized")],
  // A path some route serves, with another method: a 405 (its Allow is checked in test/http/conventions.test.ts).
  [
    "TRACE /api/jobs/j/logs HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(401, "unauthorized"),
  ],
  [
    "OPTIONS /api/jobs/j/logs HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(401, "unauthorized"),
  ],
  [
    "PROPFIND /api/jobs HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(401, "unauthorized"),
  ],
  [
    "PURGE /api/jobs/j/logs HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(401, "unauthorized"),
  ],
  [
    "PATCH /api/jobs/j HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(401, "unauthorized"),
  ],
  [
    "DELETE /worker/jobs/j/logs HTTP/1.1\r\nHost: a",
    jsonError(405, "method_not_allowed"),
    jsonError(401, "unauthorized"),
  ],
  [
    "GET http://other.example/api/nothing HTTP/1.1\r\nHost: a",
    jsonError(404, "no_route"),
    jsonError(401, "unauthorized"),
  ],
  [
    "GET https://a:99/api/jobs/bad%20id HTTP/1.1\r\nHost: a",
    jsonError(400, "invalid_job_id"),
    jsonError(401, "unauthorized"),
  ],
  ["GET //api/jobs HTTP/1.1\r\nHost: a", jsonError(404, "no_route"), jsonError(401, "unauthorized")],
  // Forms that name a route are served: absolute-form (RFC 9112 §3.2.2), and HTTP/1.0 without Host.
  ["GET http://other.example/healthz HTTP/1.1\r\nHost: a", healthy, healthy],
  ["GET /healthz HTTP/1.0", healthy, healthy],
  // A method Bun does not know reaches the handler as a GET once Bun.serve has `routes` (the log viewer's
  // page): never the page (its routes take GET and HEAD only), a JSON answer for its path.
  ["FOO / HTTP/1.1\r\nHost: a", jsonError(404, "no_route"), jsonError(401, "unauthorized")],
  ["get / HTTP/1.1\r\nHost: a", jsonError(404, "no_route"), jsonError(401, "unauthorized")],
];

/** Request lines Bun's own parser refuses before any handler runs: a bare 400, or the connection closed. */
const refusedByBun = [
  "OPTIONS * HTTP/1.1\r\nHost: a",
  "M-SEARCH * HTTP/1.1\r\nHost: a",
  "GET x HTTP/1.1\r\nHost: a",
  "GET /x HTTP/1.1", // HTTP/1.1 without Host
];

for (const withAuth of [false, true]) {
  describe(`odd methods and request targets${withAuth ? " with tokens configured" : ""}`, () => {
    test("each answers a JSON 4xx from our handler (or Bun's bare refusal), and the server logs no stack trace", async () => {
      await using server = await spawnServer(
        withAuth ? { auth: { worker_token: "w", read_tokens: ["r"] } } : {},
      );
      const got: Array<[string, Answer]> = [];
      for (const [head] of handled) got.push([head, parseAnswer((await raw(server.url, head)).text)]);
      expect(got).toEqual(handled.map(([head, open, authed]) => [head, withAuth ? authed : open]));

      for (const head of refusedByBun) {
        const { text, closed } = await raw(server.url, head);
        // No handler runs for these: Bun answers a bare 400 (no body) or closes the connection.
        expect([head, closed, text === "" || text.startsWith("HTTP/1.1 400 Bad Request\r\n")]).toEqual([
          head,
          true,
          true,
        ]);
      }
      // The server still serves, then stops cleanly: its whole stderr is the shutdown, no line per request.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect(await server.stop()).toBe(0);
      await waitFor("the server's last log line", () => server.stderr().includes("info: stopped"));
      expect(
        server
          .stderr()
          .split("\n")
          .filter((l) => l !== "" && !l.startsWith("info: ")),
      ).toEqual([]);
    }, 60_000);
  });
}
