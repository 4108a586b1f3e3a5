// Search route: the numbers of the lines that match a text or a pattern, a page at a time, with a cursor.
import type { Hono } from "hono";
import * as v from "valibot";
import { badRequest, notFound } from "../errors.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Search } from "../logs/search.ts";
import { StepName } from "../protocol/ids.ts";
import { StreamName as Stream } from "../protocol/push.ts";
import { Flag, Pattern, regexOf } from "./filters.ts";
import { jobIdParam, parse } from "./params.ts";

// Messages name no field: the error names it (`limit: must be at least 1`).
const Count = v.pipe(
  v.string(),
  v.regex(/^\d{1,15}$/, (i) => `expected a non-negative integer (got ${JSON.stringify(i.input)})`),
  v.transform(Number),
);

export const SearchQuery = v.object({
  q: v.optional(Pattern),
  re: v.optional(Pattern),
  icase: v.optional(Flag),
  step: v.optional(StepName),
  stream: v.optional(Stream),
  from: v.optional(Count),
  limit: v.optional(
    v.pipe(
      Count,
      v.minValue(1, "must be at least 1"),
      v.maxValue(10_000, (i) => `must be at most 10000 (got ${i.input})`),
    ),
  ),
});

export const SEARCH_LIMIT = 1000;
export const SEARCH_BUDGET_MS = 250;

export function mountSearchRoutes(
  app: Hono,
  deps: { jobs: Pick<Registry, "get">; search: Search; budgetMs?: number },
): void {
  app.get("/api/jobs/:id/search", async (c) => {
    const id = jobIdParam(c);
    const q = parse(SearchQuery, c.req.query(), "invalid_query");
    if (q.q === undefined && q.re === undefined && q.step === undefined && q.stream === undefined) {
      throw badRequest(
        "nothing to search for: give q (a text), re (a regular expression), step or stream",
        "invalid_query",
      );
    }
    // The same rules as the reads' q/re/icase (http/filters.ts).
    const regex = regexOf(q);
    const from = q.from ?? 0;
    const page = await deps.search.search(
      id,
      { text: regex === undefined ? q.q : undefined, regex, step: q.step, stream: q.stream },
      { from, limit: q.limit ?? SEARCH_LIMIT, budgetMs: deps.budgetMs ?? SEARCH_BUDGET_MS },
    );
    if (page === null) {
      if ((await deps.jobs.get(id)) === null) {
        throw notFound(`job ${id} not found: no job registered and no log stored`, "job_not_found");
      }
      return c.json({ matches: [], from, next: from, done: true, source: "none" });
    }
    return c.json(page);
  });
}
