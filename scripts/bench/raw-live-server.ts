// Live baseline: a bare Bun.serve with the same push and stream URLs, fanning each batch out with server.publish.
// No files, no database, no cursors: the machine's limit for push → WebSocket delivery of the same frames.
import { encodeLine } from "../../src/core/line.ts";
import { iso } from "../../src/core/time.ts";

interface Push {
  step_name: string;
  lines: { ts?: string; stream: "stdout" | "stderr"; line: string }[];
}

const bytes = new Map<string, number>();
const encoder = new TextEncoder();
const server = Bun.serve<{ job: string }>({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req, srv) {
    const url = new URL(req.url);
    const parts = url.pathname.split("/"); // ["", "worker"|"api", "jobs", id, ...]
    const job = parts[3] ?? "";
    if (req.method === "POST" && parts[1] === "worker" && parts[4] === "logs") {
      const body = (await req.json()) as Push;
      const now = iso(Date.now());
      const step = JSON.stringify(body.step_name);
      let text = "";
      for (const l of body.lines) text += encodeLine(l.ts ?? now, l.stream, step, l.line);
      bytes.set(job, (bytes.get(job) ?? 0) + encoder.encode(text).length);
      srv.publish(job, text);
      return Response.json({ status: "ok" });
    }
    if (parts[4] === "logs" && parts[5] === "stream") {
      return srv.upgrade(req, { data: { job } })
        ? undefined
        : new Response("upgrade failed", { status: 400 });
    }
    if (req.method === "GET" && parts.length === 4) return Response.json({ bytes: bytes.get(job) ?? 0 });
    return new Response("not found", { status: 404 });
  },
  websocket: {
    open(ws) {
      ws.subscribe(ws.data.job);
    },
    message() {},
  },
});
console.log(`listening on http://127.0.0.1:${server.port}`);
