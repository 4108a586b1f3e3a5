// Download route: a job's log (or one step's) as a file, JSONL or plain text, streamed at any size.
import type { Hono } from "hono";
import * as v from "valibot";
import type { Batch } from "../core/scan.ts";
import { notFound } from "../errors.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { Reader } from "../logs/read.ts";
import type { RegexPool } from "../logs/regex-pool.ts";
import { lineText } from "../logs/text.ts";
import { StepName } from "../protocol/ids.ts";
import { StreamName as Stream } from "../protocol/push.ts";
import { FilterEntries, needPool, readFilter, regexSelection } from "./filters.ts";
import { jobIdParam, parse } from "./params.ts";

export const DownloadQuery = v.object({
  format: v.optional(v.picklist(["jsonl", "text"], (i) => `expected "jsonl" or "text" (got ${i.received})`)),
  step: v.optional(StepName),
  stream: v.optional(Stream),
  ...FilterEntries,
});

/** `attachment; filename=…` with an ASCII fallback and the exact name in RFC 5987 form. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^A-Za-z0-9._-]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export function mountDownloadRoutes(
  app: Hono,
  deps: { jobs: Pick<Registry, "get">; reader: Reader; log?: Logger; regex?: RegexPool | undefined },
): void {
  app.get("/api/jobs/:id/logs/download", async (c) => {
    const id = jobIdParam(c);
    const q = parse(DownloadQuery, c.req.query(), "invalid_query");
    const format = q.format ?? "jsonl";
    const name = `${id}${q.step === undefined ? "" : `-${q.step}`}${format === "jsonl" ? ".jsonl" : ".log"}`;
    const headers = {
      "content-type":
        format === "jsonl" ? "application/x-ndjson; charset=utf-8" : "text/plain; charset=utf-8",
      "content-disposition": contentDisposition(name),
    };
    const f = readFilter(q);
    const selected = await deps.reader.select(id, {
      from: 0,
      filter: { step: q.step, stream: q.stream, ...f.lines },
    });
    const selection =
      selected === null || f.regex === undefined
        ? selected
        : regexSelection(selected, needPool(deps.regex), f.regex, { legacy: selected.source === "legacy" });
    if (selection === null) {
      if ((await deps.jobs.get(id)) === null) {
        throw notFound(`job ${id} not found: no job registered and no log stored`, "job_not_found");
      }
      return new Response("", { headers: { ...headers, "x-stroem-source": "none" } });
    }
    const it = selection.batches[Symbol.asyncIterator]();
    // Pulled before the status is sent: a failure at open time is still an honest JSON error.
    const first = await it.next();
    const plain = format === "text" && selection.source !== "legacy";
    const encode = (b: Batch) => `${(plain ? b.texts.map((t) => lineText(t) ?? t) : b.texts).join("\n")}\n`;
    const failed = (e: unknown) =>
      deps.log?.warn(`download of job ${id} broke after it started: ${(e as Error).message}`);
    return new Response(body(it, first, encode, failed), {
      headers: { ...headers, "x-stroem-source": selection.source },
    });
  });
}

/** Pulled at the client's pace; a failure once bytes were sent errors the stream (never a clean short end). */
function body(
  it: AsyncIterator<Batch>,
  first: IteratorResult<Batch>,
  encode: (b: Batch) => string,
  failed: (e: unknown) => void,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let pending: IteratorResult<Batch> | null = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: IteratorResult<Batch>;
      try {
        r = pending ?? (await it.next());
      } catch (e) {
        failed(e);
        controller.error();
        return;
      }
      pending = null;
      if (r.done) {
        controller.close();
        return;
      }
      if (r.value.texts.length > 0) controller.enqueue(encoder.encode(encode(r.value)));
    },
    async cancel() {
      await it.return?.(undefined);
    },
  });
}
