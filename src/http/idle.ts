// Bun's idle timeout for one request: off while the server works on it, on while it waits for its client.
import type { Context } from "hono";

/** The part of Bun's `Server` this uses; absent when the app runs without Bun.serve (app.request in tests). */
interface TimeoutServer {
  timeout(request: Request, seconds: number): void;
}

export interface IdleControl {
  /** The server is computing (a count pass over an archive, a filtered scan): no byte can flow, none is owed. */
  working(): void;
  /** The server waits for the client to take what it has: an idle client may be cut again. */
  waiting(): void;
}

/**
 * Bun resets a connection that sent and received nothing for `idleTimeout` — also while the handler is still
 * working (a tail of a multi-GB archive counts every line before its first byte). Turned off for exactly those
 * spans, a stalled or vanished client is still cut, and a slow answer never is.
 */
export function idleControl(c: Context, idleMs: number): IdleControl {
  const server = c.env as Partial<TimeoutServer> | undefined;
  const request = c.req.raw;
  const set = (seconds: number) => {
    if (typeof server?.timeout !== "function") return;
    try {
      server.timeout(request, seconds);
    } catch {
      // The request already ended (client gone): nothing left to time out.
    }
  };
  const idle = Math.round(idleMs / 1000);
  return { working: () => set(0), waiting: () => set(idle) };
}
