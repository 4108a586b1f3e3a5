// The big log of the read and archive figures: ~110-byte JSONL lines whose text compresses like a real build log.
import { closeSync, openSync, writeSync } from "node:fs";

/**
 * Writes about `bytes` of JSONL to `path`. Texts cycle through a pool of random strings larger than gzip's
 * 32 KB window, so the log compresses ~6× like real output (padded synthetic lines compress ~40× and make
 * gzip look faster than it is). Every `rareEvery`-th line belongs to step "rare", the rest to "build".
 */
export function writeBenchLog(
  path: string,
  bytes: number,
  rareEvery = 100,
): { size: number; lines: number; rare: number } {
  const words = ["compiling", "linking", "warning:", "test", "ok", "FAILED", "downloading", "src/app/module"];
  let seed = 42;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const pool = Array.from({ length: 8192 }, (_, i) => {
    let noise = "";
    while (noise.length < 14) noise += Math.floor(rand() * 36 ** 6).toString(36);
    return `${words[(i * 7) % words.length]} ${noise.slice(0, 14)}`;
  });
  const fd = openSync(path, "w");
  let size = 0;
  let lines = 0;
  let rare = 0;
  try {
    while (size < bytes) {
      let chunk = "";
      for (let i = 0; i < 32_768; i++, lines++) {
        const step = lines % rareEvery === 0 ? "rare" : "build";
        if (step === "rare") rare++;
        const ms = String(lines % 1000).padStart(3, "0");
        chunk += `{"ts":"2025-02-12T10:56:45.${ms}Z","stream":"stdout","step":"${step}","line":"[${lines}] ${pool[lines % pool.length]}"}\n`;
      }
      const buf = Buffer.from(chunk);
      writeSync(fd, buf);
      size += buf.length;
    }
  } finally {
    closeSync(fd);
  }
  return { size, lines, rare };
}
