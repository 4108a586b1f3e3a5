// Test support: a real HTTP proxy in front of s3rver that answers S3 errors or delays for the PUTs a test picks.
import type { TestS3 } from "./s3.ts";

const S3_ERRORS = {
  500: ["InternalError", "We encountered an internal error. Please try again."],
  503: ["SlowDown", "Please reduce your request rate."],
} as const;

/**
 * A real HTTP proxy in front of s3rver. `fault(nth, path)` is asked for every PUT of an archive object (not
 * of its `.idx` sidecar, so each attempt meets the faults once), with the number of earlier PUTs of the same
 * path (`/bucket/key`): a status answers that S3 error instead of forwarding, a number of ms delays the
 * forwarded request. Records every PUT that reached s3rver and succeeded.
 */
export function faultProxy(
  s3: TestS3,
  fault: (nth: number, path: string) => { status: 500 | 503 } | { delayMs: number } | null,
) {
  const puts = new Map<string, number>();
  const stored = new Map<string, number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const isPut = req.method === "PUT" && url.pathname.split("/").length > 2;
      if (isPut && !url.pathname.endsWith(".idx")) {
        const nth = puts.get(url.pathname) ?? 0;
        puts.set(url.pathname, nth + 1);
        const f = fault(nth, url.pathname);
        if (f !== null && "status" in f) {
          const [code, message] = S3_ERRORS[f.status];
          return new Response(
            `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
            { status: f.status, headers: { "content-type": "application/xml" } },
          );
        }
        // The fault under test is a slow S3: the delay is what is injected, not a wait for an event.
        if (f !== null) await Bun.sleep(f.delayMs);
      }
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      // The Host header is kept: s3rver checks the signature over it.
      const res = await fetch(`${s3.endpoint}${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers,
        ...(body === undefined ? {} : { body }),
        decompress: false,
      });
      if (isPut && res.ok) stored.set(url.pathname, (stored.get(url.pathname) ?? 0) + 1);
      return new Response(res.body, { status: res.status, headers: res.headers });
    },
  });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    /** Successful PUTs per object path (`/bucket/key`). */
    stored,
    [Symbol.dispose]: () => server.stop(true),
  };
}
