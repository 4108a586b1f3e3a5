// Reading one output stream into the spool: split into lines as bytes arrive, masked, stamped when read, echoed.

import { createStreamMasker, type Masker, NO_MASK } from "../core/mask.ts";
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
  /**
   * Where the bytes are echoed as they were read (the terminal), or null (`--quiet`). With secrets to mask
   * the echo is masked too, as UTF-8 text (invalid bytes become U+FFFD there as in the log).
   */
  echo: ((chunk: Uint8Array) => Promise<void> | void) | null;
  /** Secrets masked before a line is spooled (`--mask-env`, `--mask-file`). */
  masker?: Masker;
  report: (message: string) => void;
  /** Stops reading (the stream is cancelled); what was read is kept. */
  signal?: AbortSignal;
  clock?: () => number;
}

/** Captures `source` until it ends; returns how many lines were read. */
export async function capture(source: ReadableStream<Uint8Array>, opts: CaptureOptions): Promise<number> {
  const { spool, sender, stream } = opts;
  const clock = opts.clock ?? Date.now;
  const masker = opts.masker ?? NO_MASK;
  const splitter = createLineSplitter(opts.maxLineBytes, masker);
  const echo =
    opts.echo === null ? null : masker.values === 0 ? plainEcho(opts.echo) : maskedEcho(opts.echo, masker);
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

  // An unfinished line, or echoed text kept back as the possible start of a secret, is let go after a while.
  const waiting = () => splitter.hasPartial || (echo?.holding ?? false);
  const flushPartial = () => {
    timer = null;
    keep(splitter.flushPartial(), clock());
    void echo?.flush();
    if (waiting()) timer = setTimeout(flushPartial, opts.partialFlushMs);
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
    if (waiting() && timer === null) timer = setTimeout(flushPartial, opts.partialFlushMs);
    if (echo) await echo.write(chunk);
  }
  opts.signal?.removeEventListener("abort", stop);
  if (timer !== null) clearTimeout(timer);
  keep(splitter.end(), clock());
  await echo?.end();
  return read;
}

type Out = (chunk: Uint8Array) => Promise<void> | void;

interface Echo {
  write(chunk: Uint8Array): Promise<void> | void;
  /** The output went quiet: text kept back since the last call is let go (held at most twice as long). */
  flush(): Promise<void> | void;
  end(): Promise<void> | void;
  readonly holding: boolean;
}

/** The bytes as they were read. */
const plainEcho = (out: Out): Echo => ({ write: out, flush() {}, end() {}, holding: false });

/** The echo with secrets masked, like the lines: text that could be the start of one waits for what follows. */
function maskedEcho(out: Out, masker: Masker): Echo {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const encoder = new TextEncoder();
  const text = createStreamMasker(masker);
  const send = (s: string) => (s.length > 0 ? out(encoder.encode(s)) : undefined);
  let quiet = false;
  return {
    write(chunk) {
      quiet = false;
      return send(text.push(decoder.decode(chunk, { stream: true })));
    },
    flush() {
      if (!quiet) quiet = true;
      else return send(text.flush());
    },
    end: () => send(text.push(decoder.decode()) + text.flush()),
    get holding() {
      return text.holding;
    },
  };
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
