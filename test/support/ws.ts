// Test support: a real WebSocket viewer of a job's live stream that records every frame and waits with deadlines.
import { DEADLINE_MS } from "./wait.ts";

export interface StreamViewer {
  ws: WebSocket;
  /** Every text frame received, in order. */
  frames: string[];
  /** Lines received so far (newline count over all frames). */
  lines(): number;
  /** All frames joined: the log as received. */
  text(): string;
  opened: Promise<void>;
  /** Resolves on close with its code and reason (also after an error). */
  closed: Promise<{ code: number; reason: string; lines: number }>;
  /** Resolves once at least `n` lines arrived; rejects loudly after `timeoutMs`. */
  waitLines(n: number, timeoutMs?: number): Promise<void>;
  [Symbol.dispose](): void;
}

/** Opens `ws://…/api/jobs/{job}/logs/stream?{query}` against an `http://` base URL. */
export function watch(base: string, job: string, query: Record<string, string> = {}): StreamViewer {
  const qs = new URLSearchParams(query).toString();
  const ws = new WebSocket(
    `${base.replace(/^http/, "ws")}/api/jobs/${encodeURIComponent(job)}/logs/stream${qs ? `?${qs}` : ""}`,
  );
  const frames: string[] = [];
  let count = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<{ code: number; reason: string; lines: number }>();
  let isOpen = false;
  ws.addEventListener("open", () => {
    isOpen = true;
    opened.resolve();
  });
  ws.addEventListener("message", (e) => {
    const text = e.data as string;
    frames.push(text);
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) count++;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (count >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve();
    }
  });
  ws.addEventListener("close", (e) => {
    if (!isOpen)
      opened.reject(new Error(`stream of ${job} closed before opening (code ${e.code} ${e.reason})`));
    closed.resolve({ code: e.code, reason: e.reason, lines: count });
  });
  opened.promise.catch(() => {});
  return {
    ws,
    frames,
    lines: () => count,
    text: () => frames.join(""),
    opened: opened.promise,
    closed: closed.promise,
    waitLines(n, timeoutMs = DEADLINE_MS) {
      if (count >= n) return Promise.resolve();
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const timer = setTimeout(
        () =>
          reject(
            new Error(`timed out after ${timeoutMs} ms waiting for ${n} lines of ${job} (got ${count})`),
          ),
        timeoutMs,
      );
      waiters.push({ n, resolve });
      closed.promise.then((c) => {
        if (count < n)
          reject(new Error(`stream of ${job} closed (${c.code} ${c.reason}) after ${count} of ${n} lines`));
      });
      return promise.finally(() => clearTimeout(timer));
    },
    [Symbol.dispose]() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
    },
  };
}

/** Bounds a promise: rejects naming `what` after `timeoutMs`. */
export function within<T>(what: string, p: Promise<T>, timeoutMs = DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
