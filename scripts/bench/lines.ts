// The synthetic log lines of the ingest figure: what a client pushes and what the server then stores (~110 bytes).
import { encodeLine } from "../../src/core/line.ts";

const WORDS = ["compiling", "linking", "warning:", "test", "ok", "downloading", "src/app/module"];
export const STORED_BYTES = 110;
const BASE_TS = Date.parse("2025-02-12T10:56:45.000Z");

/** Timestamp of line `i`: a few lines share a millisecond, as lines read from one pipe do. */
export const tsOf = (i: number) => new Date(BASE_TS + Math.floor(i / 4)).toISOString();

/** Text of line `i`, padded so that its stored JSONL line is `STORED_BYTES` long. */
export function textOf(i: number, step = "build"): string {
  const head = `[${i}] ${WORDS[i % WORDS.length]} ${WORDS[(i * 3) % WORDS.length]}_${i % 997} `;
  const stored = encodeLine(tsOf(i), "stdout", JSON.stringify(step), head).length;
  return head + "abcdefghijklmnopqrstuvwxyz0123456789".repeat(4).slice(0, Math.max(0, STORED_BYTES - stored));
}

/** A push body of `count` lines starting at line `first`. */
export function pushBody(first: number, count: number, step = "build"): string {
  const lines = [];
  for (let i = first; i < first + count; i++)
    lines.push({ ts: tsOf(i), stream: "stdout", line: textOf(i, step) });
  return JSON.stringify({ step_name: step, lines });
}

/** The stored JSONL of `count` lines starting at `first`: exactly what the server writes for `pushBody`. */
export function storedChunk(first: number, count: number, step = "build"): string {
  let out = "";
  const stepJson = JSON.stringify(step);
  for (let i = first; i < first + count; i++) out += encodeLine(tsOf(i), "stdout", stepJson, textOf(i, step));
  return out;
}
