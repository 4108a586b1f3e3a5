// The push decode worker: parses, validates and encodes push bodies off the server's thread, which keeps the
// job's turn, the append and the commit (see ingest/decode-pool.ts).
import { AppError } from "../errors.ts";
import { type DecodedPush, decodePush } from "./decode.ts";

export interface DecodeTask {
  id: number;
  body: Uint8Array;
  now: string;
  maxLineBytes: number;
}

export type DecodeReply =
  | { id: number; ok: true; push: DecodedPush }
  | { id: number; ok: false; status: number; code: string; message: string; headers: Record<string, string> };

declare const self: Worker;

self.onmessage = (e: MessageEvent<DecodeTask>) => {
  const t = e.data;
  let reply: DecodeReply;
  try {
    reply = { id: t.id, ok: true, push: decodePush(t.body, t.now, t.maxLineBytes, null) };
  } catch (err) {
    // Only a refusal of the body crosses back as such; anything else is the worker's own failure.
    if (!(err instanceof AppError)) throw err;
    reply = {
      id: t.id,
      ok: false,
      status: err.status,
      code: err.code,
      message: err.message,
      headers: err.headers,
    };
  }
  if (reply.ok) self.postMessage(reply, [reply.push.data.buffer as ArrayBuffer]);
  else self.postMessage(reply);
};
