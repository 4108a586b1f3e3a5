// The route table's matcher: the route, the methods of a path (a 405), or no path at all (a 404).
import { expect, test } from "bun:test";
import { ROUTES, routeMatcher } from "../../src/http/routes.ts";

test("a path matches by its segments: a parameter takes one non-empty segment, HEAD goes with GET", () => {
  const match = routeMatcher(ROUTES);
  const name = (m: ReturnType<typeof match>) =>
    m === null ? null : "route" in m ? `${m.route.method} ${m.route.path}` : m.allow.join(",");
  expect(
    [
      ["POST", "/worker/jobs/j/logs"],
      ["HEAD", "/api/jobs/j/steps/build/logs"],
      ["GET", "/api/jobs/j"],
      ["DELETE", "/api/jobs/j"],
      ["GET", "/api/jobs//logs"],
      ["GET", "/api/jobs/j/logs/"],
      ["GET", "/api/jobs/j/nothing"],
      ["GET", "/"],
    ].map(([m, p]) => name(match(m!, p!))),
  ).toEqual([
    "POST /worker/jobs/:id/logs",
    "GET /api/jobs/:id/steps/:step/logs",
    "GET /api/jobs/:id",
    "GET,HEAD,PUT",
    null,
    null,
    null,
    null,
  ]);
});
