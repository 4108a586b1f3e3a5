// The live follow: the job's stream over a WebSocket from a line number, resumed with `from=` after a drop
// (so no line is missed or repeated), the connection state shown to the person.
import { enc, request, streamProtocols } from "./api.ts";
import { endOf, retryDelay } from "./links.ts";
import { splitJsonl } from "./logline.ts";

export type FollowState =
  | { kind: "connecting" }
  | { kind: "live" }
  | { kind: "retrying"; attempt: number; inMs: number; why: string }
  | { kind: "ended"; status: string }
  | { kind: "stopped"; why: string };

export interface Follower {
  /** The next line number expected (where a reconnect resumes). */
  readonly next: number;
  stop(): void;
}

export function follow(o: {
  jobId: string;
  from: number;
  onLines(first: number, lines: string[]): void;
  onState(s: FollowState): void;
}): Follower {
  let next = o.from;
  let attempt = 0;
  let ws: WebSocket | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  function connect(): void {
    const protocols = streamProtocols();
    if (protocols === null) {
      o.onState({
        kind: "stopped",
        why: "the token holds characters a WebSocket subprotocol cannot carry: live follow is off (reads work)",
      });
      return;
    }
    o.onState({ kind: "connecting" });
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/jobs/${enc(o.jobId)}/logs/stream?from=${next}`;
    const sock = new WebSocket(url, protocols);
    ws = sock;
    let opened = false;
    sock.onopen = () => {
      opened = true;
      attempt = 0;
      o.onState({ kind: "live" });
    };
    sock.onmessage = (e) => {
      if (ws !== sock) return;
      const lines = splitJsonl(e.data as string);
      const first = next;
      next += lines.length;
      o.onLines(first, lines);
    };
    sock.onclose = (e) => {
      if (ws !== sock || stopped) return;
      ws = null;
      const status = endOf(e.code, e.reason);
      if (status !== null) {
        o.onState({ kind: "ended", status });
        return;
      }
      const why = opened ? `connection lost (${e.code}${e.reason ? ` ${e.reason}` : ""})` : "cannot connect";
      // A refused handshake tells the browser nothing: ask over HTTP why (401/403 bring the sign-in).
      if (!opened && attempt >= 1) void request(`/api/jobs/${enc(o.jobId)}`).catch(() => {});
      const inMs = retryDelay(attempt++);
      o.onState({ kind: "retrying", attempt, inMs, why });
      timer = setTimeout(connect, inMs);
    };
  }

  connect();
  return {
    get next() {
      return next;
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      ws?.close(1000, "viewer left");
      ws = null;
    },
  };
}
