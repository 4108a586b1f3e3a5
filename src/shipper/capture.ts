// Reading one output stream into the spool: split into lines as bytes arrive, stamped when read, echoed as is.
import { iso } from "../core/time.ts";
import type { Stream } from "../protocol/line.ts";
import { encodeRecord } from "./batch.ts";
import { createLineSplitter } from "./lines.ts";
import type { Sender } from "./sender.ts";
import type { Spool } from "./spool.ts";

export interface CaptureOptions {
  spool: Spool;
  sender: Sender;
  stream: Stream;
  maxLineBytes: number;
  /** An unfinished line older than this is sent on its own, so a command without newlines is not held back. */
  partialFlushMs: number;
  /** Where the bytes are echoed as they were read (the terminal), or null (`--quiet`). */
  echo: ((chunk: Uint8Array) => Promise<void> | void) | null;
  report: (message: string) => void;
  /** Stops reading (the stream is cancelled); what was read is kept. */
  signal?: AbortSignal;
  clock?: () => number;
}

/** Captures `source` until it ends; returns how many lines were read. */
export async function capture(source: ReadableStream<Uint8Array>, opts: CaptureOptions): Promise<number> {
  const { spool, sender, stream } = opts;
  const clock = opts.clock ?? Date.now;
  const splitter = createLineSplitter(opts.maxLineBytes);
  let read = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  function keep(lines: string[], now: number): void {
    if (lines.length === 0) return;
    read += lines.length;
    const ts = iso(now);
    const records = lines.map((line) => encodeRecord(ts, stream, line));
    try {
      spool.append(records);
    } catch (e) {
      opts.report((e as Error).message);
    }
    sender.notify();
  }

  const flushPartial = () => {
    timer = null;
    keep(splitter.flushPartial(), clock());
  };

  const reader = source.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  opts.signal?.addEventListener("abort", stop, { once: true });
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    const chunk = r.value;
    const lines = splitter.push(chunk);
    keep(lines, clock());
    // The partial line's clock restarts whenever a line ended: only a line that stays unfinished is cut.
    if (lines.length > 0 && timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (splitter.hasPartial && timer === null) timer = setTimeout(flushPartial, opts.partialFlushMs);
    if (opts.echo) await opts.echo(chunk);
  }
  opts.signal?.removeEventListener("abort", stop);
  if (timer !== null) clearTimeout(timer);
  keep(splitter.end(), clock());
  return read;
}

/** An echo to one of our own outputs that never stops the capture: a closed terminal only ends the echo. */
export function echoTo(out: NodeJS.WriteStream): (chunk: Uint8Array) => Promise<void> {
  let broken = false;
  out.on("error", () => {
    broken = true;
  });
  return async (chunk) => {
    if (broken) return;
    if (!out.write(chunk)) {
      await new Promise<void>((resolve) => {
        out.once("drain", resolve);
        out.once("error", () => resolve());
      });
    }
  };
}
