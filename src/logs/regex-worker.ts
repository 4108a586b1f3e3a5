// The regular-expression search worker: tests the lines of a block off the server's thread, so a pattern
// that backtracks for ever costs a terminated worker, not a stalled server.
import { makeMatcher } from "../core/line.ts";
import type { Stream } from "../protocol/line.ts";
import { lineText } from "./text.ts";

export interface RegexTask {
  id: number;
  source: string;
  flags: string;
  step?: string | undefined;
  stream?: Stream | undefined;
  /** Plain-text lines (a legacy .log): the pattern tests the raw line; a step or stream filter keeps none. */
  legacy: boolean;
  bytes: Uint8Array;
}

export interface RegexReply {
  id: number;
  /** 0-based indexes, within the block, of the lines that match. */
  hits: number[];
  /** Lines in the block. */
  lines: number;
}

declare const self: Worker;

const decoder = new TextDecoder();
let compiled: { key: string; test: (raw: string) => boolean } | null = null;

function tester(t: RegexTask): (raw: string) => boolean {
  const key = JSON.stringify([t.source, t.flags, t.step, t.stream, t.legacy]);
  if (compiled?.key === key) return compiled.test;
  const re = new RegExp(t.source, t.flags);
  let test: (raw: string) => boolean;
  if (t.legacy) {
    test = t.step !== undefined || t.stream !== undefined ? () => false : (raw) => re.test(raw);
  } else {
    const filter = makeMatcher({ step: t.step, stream: t.stream });
    test = (raw) => {
      if (filter !== null && !filter(raw)) return false;
      const text = lineText(raw);
      return text !== null && re.test(text);
    };
  }
  compiled = { key, test };
  return test;
}

self.onmessage = (e: MessageEvent<RegexTask>) => {
  const t = e.data;
  const test = tester(t);
  const lines = decoder.decode(t.bytes).split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const hits: number[] = [];
  for (let i = 0; i < lines.length; i++) if (test(lines[i]!)) hits.push(i);
  self.postMessage({ id: t.id, hits, lines: lines.length } satisfies RegexReply);
};
