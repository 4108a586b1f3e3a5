// The reader client's transport: the SDK's HTTP requests sent with Bun's fetch, the body streamed as it arrives.
//
// The SDK's default handler goes through node:http, which under Bun costs ~0.9 ms more per ranged GET of a
// block than fetch does (measured against s3rver, interleaved: 4.0 ms against 3.1 ms, the SDK's own
// middleware the same in both). Reads of archived logs are many small GETs, so they take this path (and the
// signed GETs of signed-get.ts its timeouts); uploads keep the default handler, which lib-storage's
// multipart streaming is built and tested on.

/** What the SDK hands a request handler (a subset of @smithy/types' HttpRequest). */
interface SdkRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | Array<string> | null>;
  headers: Record<string, string>;
  body?: unknown;
}

export interface FetchHandlerOptions {
  /** From sending the request to the response's headers. */
  headersTimeout: number;
  /** Between two pieces of the body: a store that stops sending mid-body is an error, not a hung read. */
  idleTimeout: number;
}

export function queryString(query: SdkRequest["query"]): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === null) parts.push(encodeURIComponent(k));
    else
      for (const one of Array.isArray(v) ? v : [v])
        parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(one)}`);
  }
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

/**
 * `fetch` with the two timeouts a read needs (a stalled consumer is the read gate's business, not this one's:
 * the idle clock runs only while the body is being pulled). The body is streamed as it arrives; cancelling
 * it closes the connection.
 */
export async function timedFetch(
  url: string,
  init: RequestInit,
  opts: FetchHandlerOptions,
): Promise<Response> {
  const abort = new AbortController();
  const outer = init.signal ?? undefined;
  const onOuter = () => abort.abort(outer?.reason);
  if (outer?.aborted) onOuter();
  outer?.addEventListener("abort", onOuter, { once: true });
  const done = () => outer?.removeEventListener("abort", onOuter);
  const headersTimer = setTimeout(
    () => abort.abort(new Error(`no response headers after ${opts.headersTimeout} ms`)),
    opts.headersTimeout,
  );
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: abort.signal });
  } catch (e) {
    done();
    if (abort.signal.aborted && abort.signal.reason instanceof Error) throw abort.signal.reason;
    throw connectError(e, url);
  } finally {
    clearTimeout(headersTimer);
  }
  if (res.body === null) {
    done();
    return res;
  }
  return new Response(idleLimited(res.body, opts.idleTimeout, abort, done), {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

/** Fetch's network errors said as node:http says them: `connect ECONNREFUSED 127.0.0.1:9000`. */
function connectError(e: unknown, url: string): unknown {
  const code = (e as { code?: string }).code;
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) return e;
  const host = new URL(url).host;
  const what = code === "ECONNREFUSED" || code === "ETIMEDOUT" ? `connect ${code}` : code;
  return Object.assign(new Error(`${what} ${host}`, { cause: e }), { code });
}

export function createFetchHandler(opts: FetchHandlerOptions) {
  return {
    metadata: { handlerProtocol: "http/1.1" },
    async handle(request: SdkRequest, options: { abortSignal?: AbortSignal } = {}) {
      const port = request.port ? `:${request.port}` : "";
      const url = `${request.protocol}//${request.hostname}${port}${request.path}${queryString(request.query)}`;
      const res = await timedFetch(
        url,
        {
          method: request.method,
          headers: request.headers,
          ...(request.method === "GET" || request.method === "HEAD"
            ? {}
            : { body: request.body as RequestInit["body"] }),
          redirect: "manual",
          // S3 answers are already compressed (or ranges of a gzip stream): never ask for another encoding.
          decompress: false,
          ...(options.abortSignal ? { signal: options.abortSignal } : {}),
        } as RequestInit,
        opts,
      );
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k] = v;
      });
      return {
        response: {
          statusCode: res.status,
          reason: res.statusText,
          headers,
          body: res.body ?? undefined,
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
}

/** The body, failing when no piece arrives for `ms`; cancelling it closes the connection. */
function idleLimited(
  body: ReadableStream<Uint8Array>,
  ms: number,
  abort: AbortController,
  done: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const timer = setTimeout(() => abort.abort(new Error(`the body stalled for ${ms} ms`)), ms);
        try {
          const r = await reader.read();
          if (r.done) {
            done();
            controller.close();
          } else controller.enqueue(r.value);
        } catch (e) {
          done();
          controller.error(abort.signal.reason instanceof Error ? abort.signal.reason : e);
        } finally {
          clearTimeout(timer);
        }
      },
      async cancel(why) {
        done();
        await reader.cancel(why);
      },
    },
    { highWaterMark: 0 },
  );
}
