// ETags for reads of finished logs: cheap (from the job's state, never a hash of the body), and 304 on a match.
import type { MiddlewareHandler } from "hono";
import type { Job } from "../core/job.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Reader, SourceKind } from "../logs/read.ts";
import { JOB_ID } from "../protocol/ids.ts";
import { isTerminal } from "../protocol/status.ts";

/**
 * The tag of every read of a finished job: its id, its byte count, its status and the tier that serves it.
 * A read's answer is a function of the URL and those: the bytes fix the lines (a late flush after the end
 * adds bytes, so it changes the tag), the tier fixes `source`, and a settled job's `complete` cannot change.
 * Null while the job runs or its completion work has not run: its log grows with every push, and a poller is
 * better served by `from=next` (only the new lines) than by revalidating the whole answer; a tag taken from
 * the counters and a read done a moment later could also disagree.
 */
export function finishedTag(job: Job | null, source: SourceKind): string | null {
  if (job === null || !isTerminal(job.status) || job.settled_at === null) return null;
  return `"${job.id}.${job.byte_count}.${job.status}.${source}"`;
}

/** Whether `If-None-Match` names `tag`, compared weakly (RFC 9110 §13.1.2): a `W/` tag of a gzip answer matches. */
export function noneMatch(header: string | undefined, tag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => bare(t) === bare(tag));
}

/**
 * Before the route runs: a GET or HEAD of a finished job whose tag the client holds is a 304, and the log is
 * never opened. After it: a 200 carries the tag. `Cache-Control: no-cache` says a client must revalidate
 * (a late flush or an archive move changes the tag).
 */
export function etags(deps: {
  jobs: Pick<Registry, "get">;
  reader: Pick<Reader, "sourceOf">;
}): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method;
    const id = c.req.param("id") ?? "";
    if ((method !== "GET" && method !== "HEAD") || !JOB_ID.test(id)) return next();
    const job = await deps.jobs.get(id);
    const tag = job === null ? null : finishedTag(job, await deps.reader.sourceOf(id, job));
    if (tag === null) return next();
    if (noneMatch(c.req.header("if-none-match"), tag)) {
      return new Response(null, { status: 304, headers: { etag: tag, "cache-control": "no-cache" } });
    }
    await next();
    if (c.res.status === 200) {
      c.res.headers.set("etag", tag);
      c.res.headers.set("cache-control", "no-cache");
    }
  };
}
