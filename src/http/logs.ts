// Log routes: the worker's push and the reads (whole job, one step, JSON or streamed ndjson).
import type { Context, Hono } from "hono";
import type { Batch } from "../core/scan.ts";
import { badRequest } from "../errors.ts";
import { masked, parseBody, unmasked } from "../ingest/decode.ts";
import type { PushDecoder } from "../ingest/decode-pool.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import { cutLine, type Reader, type Selection } from "../logs/read.ts";
import type { RegexPool } from "../logs/regex-pool.ts";
import { StepName } from "../protocol/ids.ts";
import { type BodyLimits, readBody } from "./body.ts";
import { needPool, readFilter, regexSelection, regexTail } from "./filters.ts";
import { type IdleControl, idleControl } from "./idle.ts";
import { idempotencyKey, jobIdParam, parse, ReadQuery } from "./params.ts";
import { pathForMessage } from "./target.ts";
import { wholeJsonBody } from "./whole.ts";

export interface LogRoutesDeps {
  registry: Registry;
  reader: Reader;
  body: BodyLimits;
  maxReadBytes: number;
  /** Push bodies, parsed and encoded (on worker threads: ingest/decode-pool.ts). */
  decoder: PushDecoder;
  /** `limits.max_line_bytes`. */
  maxLineBytes: number;
  /** `server.idle_timeout`: restored whenever a read waits on its client (see idle.ts). */
  idleTimeout?: number;
  log?: Logger;
  /** The regex worker, for `re` (and `q` with `icase`). */
  regex?: RegexPool | undefined;
}

export function mountLogRoutes(app: Hono, deps: LogRoutesDeps): void {
  const { registry, reader } = deps;

  // Pushes being handled, from their arrival (body still coming) to their answer: one alone is decoded on
  // this thread (ingest/decode-pool.ts).
  let pushing = 0;
  app.post("/worker/jobs/:id/logs", async (c) => {
    pushing++;
    try {
      const id = jobIdParam(c);
      const headerKey = idempotencyKey(c);
      const body = await readBody(c, deps.body);
      const now = registry.now();
      const max = deps.maxLineBytes;
      // A job with secrets is parsed here, once, and encoded with its masker in its turn; any other is decoded
      // first (on a worker, unless this push is alone). Its turn decides which masker applies either way.
      const push = registry.mayMask(id)
        ? masked(parseBody(body), now, max)
        : unmasked(await deps.decoder.decode(body, now, pushing === 1), body, now, max);
      const r = await registry.pushBatch(id, headerKey ?? push.batchId, push.sent, push.encode);
      return c.json({
        status: "ok",
        first: r.first,
        next: r.next,
        ...(r.truncated > 0 ? { truncated_lines: r.truncated } : {}),
        ...(r.held ? { held_lines: r.held } : {}),
        ...(r.duplicate ? { duplicate: true } : {}),
      });
    } finally {
      pushing--;
    }
  });

  app.get("/api/jobs/:id/logs", (c) => read(c, undefined));
  app.get("/api/jobs/:id/steps/:step/logs", (c) => {
    // Hono hands the parameter over percent-decoded.
    const step = parse(StepName, c.req.param("step"), "invalid_step");
    return read(c, step);
  });

  async function read(c: Context, step: string | undefined): Promise<Response> {
    const id = jobIdParam(c);
    const q = parse(ReadQuery, c.req.query(), "invalid_query");
    if (q.tail !== undefined && q.limit !== undefined) {
      throw badRequest(
        "tail and limit cannot be combined: tail already says how many lines",
        "invalid_query",
      );
    }
    const f = readFilter(q);
    const query = {
      from: q.from ?? 0,
      // A regex narrows the selection after it is made (http/filters.ts): limit and tail count what it keeps.
      limit: f.regex === undefined ? q.limit : undefined,
      tail: f.regex === undefined ? q.tail : undefined,
      filter: { step, stream: q.stream, ...f.lines },
    };
    const job = await registry.get(id);
    const idle = idleControl(c, deps.idleTimeout ?? 10_000);
    const ndjson = q.format === "ndjson" || (q.format === undefined && acceptsNdjson(c));
    // Hono answers HEAD by running this GET route and dropping the body it returns: a streamed body
    // would never be pulled nor cancelled, and the file it opened stayed open (one descriptor per HEAD).
    // A streamed answer's headers do not depend on its lines, so HEAD does not open the log at all.
    if (ndjson && c.req.method === "HEAD") {
      const source = await reader.sourceOf(id, job);
      // Its length is known only by streaming it: say so, or Bun would announce an empty body.
      return new Response(null, { headers: { ...ndjsonHeaders(source), "transfer-encoding": "chunked" } });
    }
    const selected = await reader.select(id, query);
    const selection =
      selected === null || f.regex === undefined
        ? selected
        : q.tail === undefined
          ? regexSelection(selected, needPool(deps.regex), f.regex, {
              legacy: selected.source === "legacy",
              limit: q.limit,
            })
          : regexTail(selected, () => reader.select(id, query), needPool(deps.regex), f.regex, {
              legacy: selected.source === "legacy",
              tail: q.tail,
            });
    if (selection === null) {
      // Nothing stored, registered or not: an empty log, as Strøm answers for a job that has not printed yet
      // (log_storage.rs:371-377). Beside Strøm, jobs start there and reach stroem-logs with their first line, so
      // a 404 made Strøm's CLI exit 1 on every job that had just started.
      if (ndjson) return new Response("", { headers: ndjsonHeaders("none") });
      return json(c, {
        logs: "",
        from: query.from,
        next: query.from,
        source: "none",
        complete: await reader.isFinal(job),
        truncated: false,
      });
    }
    if (ndjson) {
      const it = selection.batches[Symbol.asyncIterator]();
      // Pulled before the status is sent: a failure at open time (missing object, unreachable S3, a corrupt
      // gzip header) is still an honest JSON 502 rather than a 200 that breaks.
      idle.working();
      let first: IteratorResult<Batch>;
      try {
        first = await it.next();
      } finally {
        idle.waiting();
      }
      const failed = (e: unknown) =>
        deps.log?.warn(
          `GET ${pathForMessage(c)}: streamed read of job ${id} broke after it started: ${(e as Error).message}`,
        );
      return new Response(ndjsonBody(it, first, failed, idle), { headers: ndjsonHeaders(selection.source) });
    }

    // No window asked for: the whole log, as Strøm answers (its CLI and UI never follow `next`).
    const whole = q.from === undefined && q.limit === undefined && q.tail === undefined;
    idle.working();
    let collected: Awaited<ReturnType<typeof collect>>;
    try {
      // A whole read past 1 MiB is streamed rather than collected to max_read_bytes first: a 16 MiB head,
      // escaped and encoded at once, raised the peak RSS of a 1 GB whole read from ~130 to 161 MB.
      const limit = whole ? Math.min(deps.maxReadBytes, WHOLE_COLLECT_BYTES) : deps.maxReadBytes;
      collected = await collect(selection, query.from, limit, whole);
    } finally {
      idle.waiting();
    }
    if ("spill" in collected) {
      const { head, it } = collected.spill;
      const headers = { "content-type": "application/json", "x-stroem-source": selection.source };
      // Hono drops a HEAD's body unread: close the read here, or its file stayed open.
      if (c.req.method === "HEAD") {
        await it.return?.(undefined);
        return new Response(null, { headers: { ...headers, "transfer-encoding": "chunked" } });
      }
      const end = async () => {
        const fresh = await registry.get(id);
        const next = selection.next();
        return {
          next,
          source: selection.source,
          complete: (await reader.isFinal(fresh)) && next >= (fresh?.line_count ?? 0),
        };
      };
      const failed = (e: unknown) =>
        deps.log?.warn(
          `GET ${pathForMessage(c)}: whole read of job ${id} broke after it started: ${(e as Error).message}`,
        );
      return new Response(wholeJsonBody(head, it, end, failed, idle), { headers });
    }
    const { text, from, next, truncated } = collected;
    const fresh = await registry.get(id);
    return json(c, {
      logs: text,
      // A forward read starts at the cursor it was given; a tail read at the first line it returns.
      from: q.tail === undefined ? query.from : from,
      next,
      source: selection.source,
      complete: (await reader.isFinal(fresh)) && !truncated && next >= (fresh?.line_count ?? 0),
      truncated,
    });
  }
}

/**
 * A JSON answer whose length is stated: the same headers for HEAD as for GET (Hono drops the body of a
 * HEAD, and Bun would otherwise announce `content-length: 0`). The read behind it is bounded by
 * `max_read_bytes` and closed before this is built.
 */
function json(c: Context, body: object): Response {
  const text = JSON.stringify(body);
  return c.body(text, 200, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
  });
}

function acceptsNdjson(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("application/x-ndjson");
}

function ndjsonHeaders(source: string): Record<string, string> {
  return { "content-type": "application/x-ndjson; charset=utf-8", "x-stroem-source": source };
}

/** Up to this much, a whole read is one answer with a Content-Length; past it, it is streamed. */
const WHOLE_COLLECT_BYTES = 1024 * 1024;

type Collected =
  | { text: string; from: number; next: number; truncated: boolean }
  | { spill: { head: string[]; it: AsyncIterator<Batch> } };

/**
 * Collects selected lines up to `maxBytes`; past it, stops at a line boundary and says where to go on — or,
 * for a whole read (`spill`), hands over what it holds and the read itself, to be streamed to the end.
 */
async function collect(
  selection: Selection,
  from: number,
  maxBytes: number,
  spill = false,
): Promise<Collected> {
  const parts: string[] = [];
  let size = 0;
  let first: number | null = null;
  const it = selection.batches[Symbol.asyncIterator]();
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      const { nums, texts } = r.value;
      for (let i = 0; i < texts.length; i++) {
        const text = texts[i]!;
        size += Buffer.byteLength(text) + 1;
        if (size > maxBytes) {
          if (spill) return { spill: { head: [...parts, ...texts.slice(i)], it } };
          await it.return?.(undefined);
          // A line larger than a whole answer comes alone, cut: a page without it would answer
          // `next == from` for ever. The streamed form has no size limit and gives it whole.
          if (parts.length === 0) {
            const cut = `${cutLine(text, maxBytes - 1)}\n`;
            return { text: cut, from: nums[i]!, next: nums[i]! + 1, truncated: true };
          }
          return { text: joinLines(parts), from: first ?? nums[i]!, next: nums[i]!, truncated: true };
        }
        first ??= nums[i]!;
        parts.push(text);
      }
    }
  } catch (e) {
    await it.return?.(undefined);
    throw e;
  }
  return { text: joinLines(parts), from: first ?? from, next: selection.next(), truncated: false };
}

const joinLines = (parts: string[]) => (parts.length === 0 ? "" : `${parts.join("\n")}\n`);

/**
 * Streams selected lines as they are read, pulled at the client's pace, starting with the batch already
 * pulled. A failure once bytes were sent can only abort: the stream is errored, so the connection is cut
 * without the final chunk and the client sees a failed read, never a clean (shorter) end.
 */
function ndjsonBody(
  it: AsyncIterator<Batch>,
  first: IteratorResult<Batch>,
  failed: (e: unknown) => void,
  idle: IdleControl,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let pending: IteratorResult<Batch> | null = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: IteratorResult<Batch>;
      try {
        // A filtered read of a big log may scan for long between two matching lines.
        idle.working();
        r = pending ?? (await it.next());
      } catch (e) {
        failed(e);
        // No reason passed: Bun prints an errored response stream's reason with its stack; we logged one line.
        controller.error();
        return;
      } finally {
        idle.waiting();
      }
      pending = null;
      if (r.done) {
        controller.close();
        return;
      }
      if (r.value.texts.length > 0) controller.enqueue(encoder.encode(`${r.value.texts.join("\n")}\n`));
    },
    async cancel() {
      await it.return?.(undefined);
    },
  });
}
