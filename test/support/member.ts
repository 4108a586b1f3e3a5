// Test support: a log archived as one gzip member into memory, with its index.
import { gzipMember, type MemberOptions } from "../../src/archive/member.ts";
import type { ArchiveIndex } from "../../src/archive/seek-index.ts";

export async function archiveOf(
  path: string,
  end: number,
  opts: MemberOptions = {},
): Promise<{ gz: Buffer<ArrayBuffer>; index: ArchiveIndex; chunks: number }> {
  const a = gzipMember(path, end, opts);
  const parts: Uint8Array[] = [];
  for await (const c of a.body) parts.push(c);
  return { gz: Buffer.concat(parts) as Buffer<ArrayBuffer>, index: a.index(), chunks: parts.length };
}

/** Lines of JSONL as the store writes them. */
export const jsonl = (step: string, text: string, ms = 0) =>
  `${JSON.stringify({ ts: `2025-02-12T10:56:45.${String(ms % 1000).padStart(3, "0")}Z`, stream: "stdout", step, line: text })}\n`;
