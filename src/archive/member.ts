// The single-member archive writer: one gzip stream of a log's committed bytes, in flush blocks, plus its index.
import { open } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { type BlockResult, compressBlock } from "./block.ts";
import type { BlockReply, BlockRequest } from "./member-worker.ts";
import {
  type ArchiveIndex,
  type BlockRecord,
  buildIndex,
  GZIP_HEADER_BYTES,
  WRITER_COMMENT,
} from "./seek-index.ts";

const FCOMMENT = 0x10;

/** Log bytes per flush block (at most; blocks end at a line's end). See README "Archive layout". */
export const BLOCK_BYTES = 512 * 1024;
/**
 * The last block holds about this much of the log (from the line end before): a tail of an archived log
 * (the error is usually at the end) inflates ~128 KiB, not up to a whole block. See README "Archive layout".
 */
export const TAIL_BYTES = 128 * 1024;
/** Deflate level: see README "Archive layout" for the measurements behind it. */
export const LEVEL = 6;
const GC_EVERY = 64;

export interface MemberOptions {
  blockBytes?: number;
  /**
   * The last block's size (default TAIL_BYTES, at most half a block; 0: no shorter last block). It begins at
   * the line end before, so it holds up to one line more.
   */
  tailBytes?: number;
  level?: number;
  /** Compression threads; 0 compresses on the calling thread. Default: one per core. */
  workers?: number;
  /** Record each block's step names in the index (default true). */
  steps?: boolean;
  /** The compression thread's module (tests); default: `member-worker.ts`, see WORKER_URL. */
  workerUrl?: string;
}

/**
 * The compression thread's module. In the source tree it sits beside this file. In the compiled binary
 * every bundled module sits at the bundle's root (src/), and the worker is there only because
 * scripts/build.ts lists it as an entrypoint (Bun does not follow `new Worker(...)` by itself).
 */
const WORKER_URL = import.meta.url.includes("/$bunfs/")
  ? new URL("./archive/member-worker.ts", import.meta.url).href
  : new URL("./member-worker.ts", import.meta.url).href;

interface InFlight {
  pos: number;
  length: number;
  done: Promise<{ buf: ArrayBuffer; result: BlockResult }>;
}

export interface MemberArchive {
  /** The archive's bytes, in order. Read it once; stopping early releases the file and the threads. */
  body: AsyncIterable<Uint8Array>;
  /** The seek index; throws until `body` has been read to its end. */
  index(): ArchiveIndex;
  /**
   * Why the compression threads could not be used, when they could not (the archive was then finished
   * on the calling thread, byte for byte the same): worth a log line, it costs half the throughput.
   */
  readonly threadsFailed: string | null;
}

/**
 * Compresses bytes [0, end) of `path` into ONE gzip member (RFC 1952) made of raw-deflate blocks that each
 * end in a full flush, then an empty final block and the trailer. Every gzip reader reads it whole, and a
 * reader holding the index can inflate any block on its own. Memory: a few blocks in flight, whatever the
 * log's size. Throws when the file holds fewer than `end` bytes: an archive never holds less than the log.
 */
export function gzipMember(path: string, end: number, opts: MemberOptions = {}): MemberArchive {
  const blockBytes = opts.blockBytes ?? BLOCK_BYTES;
  // Where the last block begins: moved back to the line end before it once the block before is read.
  const tailBytes = Math.min(opts.tailBytes ?? TAIL_BYTES, Math.floor(blockBytes / 2));
  let tailStart = tailBytes > 0 ? end - tailBytes : end;
  const level = opts.level ?? LEVEL;
  const steps = opts.steps ?? true;
  if (!Number.isSafeInteger(blockBytes) || blockBytes < 1) throw new RangeError(`blockBytes ${blockBytes}`);
  // Starting a thread costs ~10-20 ms: not worth it for a log of a block or two.
  const threads = end <= 2 * blockBytes ? 0 : (opts.workers ?? availableParallelism());
  let index: ArchiveIndex | null = null;
  let threadsFailed: string | null = null;

  async function* body(): AsyncGenerator<Uint8Array> {
    yield gzipHeader();
    const done: Compressed[] = [];
    let crc = 0;
    const fh = end > 0 ? await open(path, "r") : null;
    let pool = threads > 0 ? new BlockPool(threads, opts.workerUrl ?? WORKER_URL) : null;
    const inFlight: InFlight[] = [];
    const free: ArrayBuffer[] = [];
    const bufferBytes = Math.min(blockBytes, end);
    const inline = (buf: ArrayBuffer, length: number) =>
      Promise.resolve({
        buf,
        result: compressBlock({ bytes: new Uint8Array(buf, 0, length), level, steps }),
      });
    try {
      let pos = 0;
      let seq = 0;
      let collected = 0;
      while (pos < end || inFlight.length > 0) {
        while (pos < end && inFlight.length < (pool === null ? 1 : 2 * threads)) {
          const buf = free.pop() ?? new ArrayBuffer(bufferBytes);
          const reach = pos < tailStart ? tailStart : end;
          const length = await readBlock(fh!, buf, pos, reach, end, path);
          if (reach === tailStart && reach - pos <= bufferBytes && pos + length < reach)
            tailStart = pos + length;
          crc = Bun.hash.crc32(new Uint8Array(buf, 0, length), crc);
          const req = { seq: seq++, buf, length, level, steps };
          inFlight.push({ pos, length, done: pool === null ? inline(buf, length) : pool.run(req) });
          pos += length;
        }
        const head = inFlight[0]!;
        let r: { buf: ArrayBuffer; result: BlockResult };
        try {
          r = await head.done;
        } catch (e) {
          if (pool === null) throw e;
          // The threads are unusable (a binary built without the worker, a thread that died): compress
          // this block and those in flight again here. Their buffers went to the threads: read them anew.
          threadsFailed = (e as Error).message;
          for (const f of inFlight) f.done.catch(() => {});
          pool.close();
          pool = null;
          for (const f of inFlight) {
            const buf = new ArrayBuffer(bufferBytes);
            await readExactly(fh!, new Uint8Array(buf, 0, f.length), f.pos, path, end);
            f.done = inline(buf, f.length);
          }
          r = await head.done;
        }
        inFlight.shift();
        const { buf, result } = r;
        const length = head.length;
        free.push(buf);
        const last = new Uint8Array(buf, length - 1, 1)[0];
        done.push({
          record: {
            bytes: length,
            gzBytes: result.deflated.length,
            newlines: result.newlines,
            crc32: result.crc32,
            endsLine: last === 10,
            steps: result.steps,
          },
          tailSteps: result.tailSteps,
        });
        yield result.deflated;
        // Compressed blocks and the upload's part buffers live outside the small JS heap, so the collector
        // seldom runs on its own and RSS grows with the archive (see gzip.ts): a full collection every 64
        // blocks (a few ms per 64 MiB of log) keeps it flat.
        if (++collected % GC_EVERY === 0) Bun.gc(true);
      }
    } finally {
      // Blocks still in flight when the body is left early are rejected by close(); nobody awaits them.
      for (const f of inFlight) f.done.catch(() => {});
      pool?.close();
      await fh?.close();
    }
    index = buildIndex(carrySteps(done), { crc32: crc, blockBytes, level });
    yield gzipEnd(crc, end);
  }

  return {
    body: body(),
    index() {
      if (index === null)
        throw new Error("the archive's index is known once its body has been read to the end");
      return index;
    },
    get threadsFailed() {
      return threadsFailed;
    },
  };
}

interface Compressed {
  record: BlockRecord;
  tailSteps: string[] | null;
}

/**
 * A line longer than a block runs on into the next ones: they hold that line's step too, though the step
 * name is in the block where the line began. `carry` is the step of the line running into the block
 * ([] when a line starts there, null when unknown).
 */
function carrySteps(blocks: readonly Compressed[]): BlockRecord[] {
  let carry: string[] | null = [];
  return blocks.map(({ record: r, tailSteps }) => {
    const steps = r.steps === null || carry === null ? null : union(r.steps, carry);
    if (r.endsLine) carry = [];
    else if (r.newlines === 0) carry = carry === null || tailSteps === null ? null : union(carry, tailSteps);
    else carry = tailSteps;
    return { ...r, steps };
  });
}

const union = (a: string[], b: string[]) => (b.length === 0 ? a : [...new Set([...a, ...b])]);

/**
 * Reads the next block at `pos`: up to `buf`'s size and not past `stop` (where the last block begins), cut
 * after its last newline so that lines stay whole (a line longer than the block is cut where it is full).
 */
async function readBlock(
  fh: import("node:fs/promises").FileHandle,
  buf: ArrayBuffer,
  pos: number,
  stop: number,
  end: number,
  path: string,
): Promise<number> {
  const view = new Uint8Array(buf);
  const got = Math.min(view.length, stop - pos);
  await readExactly(fh, view.subarray(0, got), pos, path, end);
  if (pos + got === end) return got;
  const nl = view.subarray(0, got).lastIndexOf(10);
  return nl === -1 ? got : nl + 1;
}

async function readExactly(
  fh: import("node:fs/promises").FileHandle,
  view: Uint8Array,
  pos: number,
  path: string,
  end: number,
): Promise<void> {
  for (let got = 0; got < view.length; ) {
    const { bytesRead } = await fh.read(view, got, view.length - got, pos + got);
    if (bytesRead === 0) {
      throw new Error(`local log ${path} ends at byte ${pos + got}, before the ${end} committed bytes`);
    }
    got += bytesRead;
  }
}

/** ID1 ID2, CM deflate, FCOMMENT, no mtime (the same log gives the same bytes), XFL 0, OS unix, the comment. */
export function gzipHeader(): Uint8Array {
  const h = new Uint8Array(GZIP_HEADER_BYTES);
  h.set([0x1f, 0x8b, 8, FCOMMENT, 0, 0, 0, 0, 0, 3]);
  h.set(new TextEncoder().encode(WRITER_COMMENT), 10);
  return h;
}

/** Pure: the first bytes of an object are the gzip header this writer makes (its comment says stroem-logs). */
export function writtenByUs(head: Uint8Array): boolean {
  const want = gzipHeader();
  return head.length >= want.length && want.every((b, i) => head[i] === b);
}

/** An empty final fixed-Huffman block (BFINAL=1, BTYPE=01, end-of-block), then CRC32 and ISIZE (mod 2^32). */
export function gzipEnd(crc: number, size: number): Uint8Array {
  const out = new Uint8Array(10);
  out[0] = 0x03;
  out[1] = 0x00;
  const dv = new DataView(out.buffer);
  dv.setUint32(2, crc >>> 0, true);
  dv.setUint32(6, size % 2 ** 32, true);
  return out;
}

/** Compression threads, each handed blocks round-robin; replies are matched to requests by sequence number. */
class BlockPool {
  private readonly workers: Worker[];
  private next = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (r: { buf: ArrayBuffer; result: BlockResult }) => void; reject: (e: Error) => void }
  >();
  private failed: Error | null = null;

  constructor(n: number, url: string) {
    this.workers = Array.from({ length: n }, () => {
      const w = new Worker(url);
      w.onmessage = (e: MessageEvent<BlockReply>) => {
        const r = e.data;
        const p = this.waiting.get(r.seq);
        if (p === undefined) return;
        this.waiting.delete(r.seq);
        if ("error" in r) p.reject(new Error(`compressing block ${r.seq}: ${r.error}`));
        else p.resolve({ buf: r.buf, result: r.result });
      };
      w.onerror = (e) => this.fail(new Error(`compression thread failed: ${e.message}`));
      // A thread that ends on its own (killed, out of memory) would leave its blocks waiting forever.
      w.addEventListener("close", () => this.fail(new Error("a compression thread exited")));
      return w;
    });
  }

  run(req: BlockRequest): Promise<{ buf: ArrayBuffer; result: BlockResult }> {
    const { promise, resolve, reject } = Promise.withResolvers<{ buf: ArrayBuffer; result: BlockResult }>();
    if (this.failed) reject(this.failed);
    else {
      this.waiting.set(req.seq, { resolve, reject });
      const w = this.workers[this.next++ % this.workers.length]!;
      w.postMessage(req, [req.buf]);
    }
    // Failures reach whoever awaits the block; blocks behind a failed one may be rejected before anyone
    // does (they are then compressed again on the calling thread, or the body was left).
    promise.catch(() => {});
    return promise;
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }

  close(): void {
    this.fail(new Error("compression threads closed"));
    for (const w of this.workers) w.terminate();
  }
}
