// The live stream route: validates, upgrades to a WebSocket through Hono's Bun adapter, hands the raw socket to the hub.
import type { ServerWebSocket } from "bun";
import type { Hono } from "hono";
import { type BunWebSocketData, upgradeWebSocket, websocket } from "hono/bun";
import * as v from "valibot";
import { AppError, badRequest } from "../errors.ts";
import type { LiveHub } from "../live/hub.ts";
import { StepName } from "../protocol/ids.ts";
import { StreamName } from "../protocol/push.ts";
import { FilterEntries, Flag, readFilter } from "./filters.ts";
import { Count, jobIdParam, parse } from "./params.ts";

/** The live stream takes the reads' time window and text; not `re` (the hub tests each line as it comes). */
export const StreamQuery = v.object({
  from: v.optional(Count()),
  skip_backfill: v.optional(Flag),
  step: v.optional(StepName),
  stream: v.optional(StreamName),
  since: FilterEntries.since,
  until: FilterEntries.until,
  q: FilterEntries.q,
});

export function mountStreamRoutes(app: Hono, deps: { hub: LiveHub }): void {
  const { hub } = deps;
  app.get("/api/jobs/:id/logs/stream", (c) => {
    const id = jobIdParam(c);
    const q = parse(StreamQuery, c.req.query(), "invalid_query");
    if (q.from !== undefined && q.skip_backfill === true) {
      throw badRequest(
        "from and skip_backfill=true cannot be combined: skip_backfill starts at the current end",
        "invalid_query",
      );
    }
    if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket") {
      throw new AppError(
        426,
        "upgrade_required",
        `GET /api/jobs/${id}/logs/stream is a WebSocket: send Upgrade: websocket`,
        {
          upgrade: "websocket",
        },
      );
    }
    // Checked before the upgrade; handshakes in flight at the same moment may pass a limit by a few.
    const refusal = hub.refusal(id);
    if (refusal !== null) throw new AppError(503, "too_many_streams", refusal, { "retry-after": "5" });
    const spec = {
      job: id,
      from: q.from,
      skipBackfill: q.skip_backfill === true,
      filter: { step: q.step, stream: q.stream, ...readFilter(q).lines },
    };
    return upgradeWebSocket(c, {
      // Hono's context drops send()'s back-pressure status: the hub works on the raw Bun socket.
      onOpen: (_e, ws) => hub.attach(ws.raw as ServerWebSocket, spec),
      onClose: (_e, ws) => hub.detach(ws.raw as ServerWebSocket),
      // Client messages are ignored: the stream is one-way.
    });
  });
}

/**
 * The `websocket` handler for `Bun.serve`: Hono's, plus `drain` (which Hono's adapter lacks) and the
 * keep-alive. Bun pings a socket idle for half of `idleTimeout` and closes it when nothing (no pong)
 * came back by the end of it: a ping every `pingSeconds`, a dead peer reaped after twice that.
 */
export function streamWebSocketHandler(
  hub: LiveHub,
  pingSeconds: number,
): Bun.WebSocketHandler<BunWebSocketData> {
  return {
    ...(websocket as unknown as Bun.WebSocketHandler<BunWebSocketData>),
    drain: (ws) => hub.drain(ws),
    sendPings: true,
    idleTimeout: pingSeconds * 2,
  };
}
