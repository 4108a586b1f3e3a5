// Request bodies: read whole within limits.max_body_bytes and limits.request_timeout, then parsed as a JSON object.
import type { Context } from "hono";
import { AppError, badRequest } from "../errors.ts";
import { parseJsonObject } from "../ingest/json.ts";

export interface BodyLimits {
  maxBytes: number;
  /** A body not fully received within this is a 408: a stalled client does not hold a request forever. */
  timeoutMs: number;
}

/**
 * A declared type that is not JSON is a 415 before a byte is read: `curl -d` sends
 * `application/x-www-form-urlencoded`, and a form is not what the route takes. No `Content-Type` at all is
 * read as JSON (a bare client that sends a JSON body without saying so is common, and its body is still
 * checked as JSON).
 */
export function requireJsonType(c: Context): void {
  const type = c.req.header("content-type");
  if (type === undefined || type.trim() === "") return;
  const essence = type.split(";")[0]!.trim().toLowerCase();
  if (essence === "application/json" || /^application\/[^/\s]+\+json$/.test(essence)) return;
  throw new AppError(
    415,
    "unsupported_media_type",
    `Content-Type ${JSON.stringify(type.slice(0, 100))} is not JSON: send the body as application/json`,
    { accept: "application/json" },
  );
}

/** Reads a JSON body: 415 when declared as another type, 413 past `maxBytes`, 408 when it stalls, 400 for invalid UTF-8 or JSON. */
export async function readJson(c: Context, limits: BodyLimits): Promise<unknown> {
  return parseJsonObject(await readBody(c, limits));
}

/** Reads a body's bytes whole: 415 when declared as another type than JSON, 413 past `maxBytes`, 408 when it stalls. */
export async function readBody(c: Context, limits: BodyLimits): Promise<Uint8Array> {
  requireJsonType(c);
  const max = limits.maxBytes;
  const length = c.req.header("content-length");
  const declared = Number(length ?? "0");
  if (declared > max) throw tooLarge(declared, max);
  const body = c.req.raw.body;
  if (body === null) throw badRequest("request body is empty: expected a JSON object", "invalid_json");
  // A declared length (every push of a worker) is read whole by Bun: half the server's CPU of a stream
  // reader's per-chunk promises (65 µs a 48 KB push). Bun ends the body at that length.
  if (length !== undefined) return await readDeclared(c.req.raw, declared, limits);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void reader.cancel();
  }, limits.timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) throw tooLarge(size, max);
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof AppError || !timedOut) throw e;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  // A read cancelled by the timer ends as "done" or as an error: either way the body is incomplete.
  if (timedOut) {
    throw new AppError(
      408,
      "request_timeout",
      `request body not received within limits.request_timeout ${limits.timeoutMs} ms (got ${size} bytes)`,
    );
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

async function readDeclared(req: Request, declared: number, limits: BodyLimits): Promise<Uint8Array> {
  const read = req.bytes();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      read.catch(() => {}); // ends when the connection does; nobody waits for it any more
      reject(
        new AppError(
          408,
          "request_timeout",
          `request body not received within limits.request_timeout ${limits.timeoutMs} ms (${declared} bytes declared)`,
          { connection: "close" },
        ),
      );
    }, limits.timeoutMs);
  });
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

function tooLarge(size: number, max: number): AppError {
  return new AppError(
    413,
    "body_too_large",
    `request body exceeds limits.max_body_bytes ${max} (got ${size}${size === max + 1 ? "+" : ""} bytes)`,
  );
}
