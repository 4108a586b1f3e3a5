// A windowless `{logs}` read larger than max_read_bytes: the same JSON answer, streamed to the log's end.
import type { Batch } from "../core/scan.ts";
import type { IdleControl } from "./idle.ts";

/** What a streamed whole read says after its lines, once the end of the log is reached. */
export interface WholeTail {
  next: number;
  source: string;
  complete: boolean;
}

/**
 * Streams `{"logs":"<jsonl>","from":0,"next":N,"source":…,"complete":…,"truncated":false}`: the lines already
 * collected, then every batch left in `it`, each escaped as a piece of one JSON string. Strøm's CLI and UI read
 * only `logs` and never follow a cursor (docs/strom-compat.md sections 2-3), so a whole read is never cut;
 * memory stays at one batch. A failure once bytes were sent errors the stream: the client gets a body that is
 * not JSON (a failed read), never a shorter log that parses.
 */
export function wholeJsonBody(
  head: string[],
  it: AsyncIterator<Batch>,
  end: () => Promise<WholeTail>,
  failed: (e: unknown) => void,
  idle: IdleControl,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const piece = (texts: string[]) => JSON.stringify(`${texts.join("\n")}\n`).slice(1, -1);
  let opening: string | null = `{"logs":"${head.length > 0 ? piece(head) : ""}`;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (opening !== null) {
        controller.enqueue(encoder.encode(opening));
        opening = null;
        return;
      }
      if (done) return;
      try {
        idle.working();
        for (;;) {
          const r = await it.next();
          if (r.done) {
            const t = await end();
            done = true;
            const rest = { from: 0, next: t.next, source: t.source, complete: t.complete, truncated: false };
            controller.enqueue(encoder.encode(`",${JSON.stringify(rest).slice(1)}`));
            controller.close();
            return;
          }
          // A filtered read may scan many blocks without a match: go on until there is something to send.
          if (r.value.texts.length > 0) {
            controller.enqueue(encoder.encode(piece(r.value.texts)));
            return;
          }
        }
      } catch (e) {
        failed(e);
        done = true;
        controller.error();
      } finally {
        idle.waiting();
      }
    },
    async cancel() {
      await it.return?.(undefined);
    },
  });
}
