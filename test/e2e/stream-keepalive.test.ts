// Keep-alive of the live stream: idle sockets are pinged; a peer that never answers is reaped, one that pongs stays.
import { expect, test } from "bun:test";
import { startTestServer } from "../support/server.ts";
import { DEADLINE_MS } from "../support/wait.ts";
import { watch, within } from "../support/ws.ts";

test("an idle viewer is pinged; one that never answers is closed, one that answers stays open", async () => {
  await using s = await startTestServer({ stream: { ping_interval: "4s" } });
  const started = Date.now();
  // A raw TCP client: it completes the WebSocket handshake, then never answers anything (a dead peer).
  const frames: number[] = [];
  let handshake = "";
  const gone = Promise.withResolvers<number>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(s.url).port),
    socket: {
      data(_s, d) {
        const b = Buffer.from(d);
        if (handshake === "") handshake = b.toString("latin1").split("\r\n")[0]!;
        else frames.push(b[0]!);
      },
      close() {
        gone.resolve(Date.now() - started);
      },
    },
  });
  socket.write(
    "GET /api/jobs/quiet/logs/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  using alive = watch(s.url, "quiet"); // Bun's client answers pings with pongs
  await alive.opened;
  const reapedAfter = await within("the dead peer to be reaped", gone.promise, DEADLINE_MS);
  expect({
    handshake,
    firstFrame: frames[0], // 0x89: FIN + ping
    reaped: reapedAfter >= 4000 && reapedAfter < 16_000,
    aliveStillOpen: alive.ws.readyState === WebSocket.OPEN,
  }).toEqual({
    handshake: "HTTP/1.1 101 Switching Protocols",
    firstFrame: 0x89,
    reaped: true,
    aliveStillOpen: true,
  });
  // The live one still streams.
  await s.post("/worker/jobs/quiet/logs", {
    step_name: "s",
    lines: [{ stream: "stdout", line: "still here" }],
  });
  await alive.waitLines(1);
}, 60_000);
