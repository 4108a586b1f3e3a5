// A compression thread of the single-member writer: compresses the blocks it is sent, in the order sent.
import { type BlockResult, compressBlock } from "./block.ts";

export interface BlockRequest {
  seq: number;
  /** The input buffer, transferred; its first `length` bytes are the block. Sent back for reuse. */
  buf: ArrayBuffer;
  length: number;
  level: number;
  steps: boolean;
}

export type BlockReply =
  | { seq: number; buf: ArrayBuffer; result: BlockResult }
  | { seq: number; buf: ArrayBuffer; error: string };

declare const self: Worker;

self.onmessage = (e: MessageEvent<BlockRequest>) => {
  const { seq, buf, length, level, steps } = e.data;
  try {
    const result = compressBlock({ bytes: new Uint8Array(buf, 0, length), level, steps });
    let out = result.deflated;
    // Transfer only a buffer the result owns whole; a view into a shared pool would detach the pool.
    if (out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength) out = out.slice();
    result.deflated = out;
    self.postMessage({ seq, buf, result } satisfies BlockReply, [buf, out.buffer as ArrayBuffer]);
  } catch (err) {
    self.postMessage({ seq, buf, error: (err as Error).message } satisfies BlockReply, [buf]);
  }
};
