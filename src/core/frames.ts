// Pure rules of the live stream: where a viewer starts, when a live frame may be sent, frame cutting.
import type { Job } from "./job.ts";

/**
 * What happens to a viewer when a committed run of lines [first, next) arrives live:
 * - `send`: the run starts exactly at the viewer's cursor and fits in one frame;
 * - `skip`: the viewer already has (or does not want yet) these lines, or it is not live;
 * - `catch-up`: the viewer is live but the run does not start at its cursor (it is ahead of the
 *   viewer) or is too large for one frame: the viewer reads from the file from its cursor instead.
 */
export type LiveAction = "send" | "skip" | "catch-up";

export function liveAction(
  viewer: { cursor: number; live: boolean },
  run: { first: number; next: number; bytes: number },
  maxFrameBytes: number,
): LiveAction {
  if (!viewer.live || run.next <= viewer.cursor) return "skip";
  if (run.first !== viewer.cursor || run.bytes > maxFrameBytes) return "catch-up";
  return "send";
}

/**
 * Bun's `ServerWebSocket.send` status: > 0 bytes written, -1 accepted but buffered (back-pressure),
 * 0 dropped. A frame covering [a, b) moves the cursor to b only when it was accepted.
 */
export function afterSend(status: number, cursor: number, end: number): { cursor: number; blocked: boolean } {
  if (status > 0) return { cursor: end, blocked: false };
  if (status === -1) return { cursor: end, blocked: true };
  return { cursor, blocked: true };
}

/** The first line a new viewer must receive. */
export function startCursor(
  q: { from?: number | undefined; skipBackfill: boolean },
  lineCount: number,
): number {
  if (q.skipBackfill) return lineCount;
  return q.from ?? 0;
}

/** True when the viewer has every line the job will ever have: the job is settled and the cursor reached its end. */
export function isDone(cursor: number, job: Pick<Job, "settled_at" | "line_count"> | null): boolean {
  return job !== null && job.settled_at !== null && cursor >= job.line_count;
}

/** Lines of one committed run, without their newlines (`data` always ends with one). */
export function splitRun(text: string): string[] {
  const lines = text.split("\n");
  lines.pop();
  return lines;
}

/** The frame text of `lines` kept by `match`; "" when none is kept. */
export function filteredFrame(lines: readonly string[], match: (text: string) => boolean): string {
  let out = "";
  for (const l of lines) if (match(l)) out += `${l}\n`;
  return out;
}

/**
 * Collects lines into frames of at most `maxBytes` (a single line longer than that is a frame of
 * its own: a frame always holds complete lines). `end` is the line number after the last line
 * examined, which is where the cursor goes once the frame is accepted.
 */
export class FrameBuilder {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly maxBytes: number) {}

  get empty(): boolean {
    return this.parts.length === 0;
  }

  /** Adds a line; true when the frame is full and must be flushed before the next line. */
  add(text: string): boolean {
    this.parts.push(text);
    this.size += Buffer.byteLength(text) + 1;
    return this.size >= this.maxBytes;
  }

  /** The frame text (complete lines, each ending in `\n`); resets the builder. */
  take(): string {
    const text = this.parts.length === 0 ? "" : `${this.parts.join("\n")}\n`;
    this.parts = [];
    this.size = 0;
    return text;
  }
}
