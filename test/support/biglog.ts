// Test support: writes a large JSONL log straight to disk (fast), for tests whose subject is not ingest.
import { closeSync, openSync, writeSync } from "node:fs";

/**
 * Writes about `bytes` of JSONL lines to `path`: line i is `line-i` padded to ~110 bytes; every
 * `stepEvery`-th line belongs to step "rare", the rest to "build". Returns the line count and size.
 */
export function writeBigLog(
  path: string,
  bytes: number,
  stepEvery = 100,
): { lines: number; size: number; rare: number } {
  const fd = openSync(path, "w");
  const pad = "x".repeat(40);
  let lines = 0;
  let size = 0;
  let rare = 0;
  try {
    while (size < bytes) {
      let chunk = "";
      for (let i = 0; i < 65_536; i++, lines++) {
        const step = lines % stepEvery === 0 ? "rare" : "build";
        if (step === "rare") rare++;
        chunk += `{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"${step}","line":"line-${lines} ${pad}"}\n`;
      }
      const buf = Buffer.from(chunk);
      writeSync(fd, buf);
      size += buf.length;
    }
  } finally {
    closeSync(fd);
  }
  return { lines, size, rare };
}

/** Reads a response body to the end, counting bytes and newlines without holding it. */
export async function drainCount(res: Response): Promise<{ bytes: number; lines: number; last: string }> {
  let bytes = 0;
  let lines = 0;
  let tail = new Uint8Array(0);
  for await (const chunk of res.body!) {
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    tail = chunk;
  }
  const text = new TextDecoder().decode(tail).trimEnd();
  return { bytes, lines, last: text.slice(text.lastIndexOf("\n") + 1) };
}
