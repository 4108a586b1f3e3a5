// Stand-ins for the push decode worker that fail as a worker with a bug would (an uncaught error), after
// answering `answers` tasks the way the real one does (decode-worker-fails-*.ts start one each).
import { decodePush } from "../../src/ingest/decode.ts";
import type { DecodeTask } from "../../src/ingest/decode-worker.ts";

declare const self: Worker;

export function failAfter(answers: number): void {
  let done = 0;
  self.onmessage = (e: MessageEvent<DecodeTask>) => {
    const t = e.data;
    if (done++ >= answers) throw new Error("decode worker bug (test)");
    self.postMessage({ id: t.id, ok: true, push: decodePush(t.body, t.now, t.maxLineBytes, null) });
  };
}
