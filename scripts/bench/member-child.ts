// Child of the archive-member figure, so each side has its own process, heap and peak RSS.
//   compress <member|gzipfile> <log> <out> [workers] [level] [steps 0|1] → {ms, cpuMs, bytes, rss, indexBytes}
//   read <log> <archive> <endpoint> <bucket> <key> <lines> <deep> <rounds>  → read timings (see below)
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from "node:fs";
import { gzipFile } from "../../src/archive/gzip.ts";
import { gzipMember } from "../../src/archive/member.ts";
import {
  type ArchiveSource,
  fileRange,
  type GetRange,
  openArchive,
  readLines,
} from "../../src/archive/ranged.ts";
import { serializeIndex } from "../../src/archive/seek-index.ts";
import { splitLines } from "../../src/core/scan.ts";

const peakRss = () =>
  Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) * 1024;
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const [cmd, ...args] = process.argv.slice(2);

if (cmd === "compress") {
  const [method, log, out, workers, level, steps] = args as [
    string,
    string,
    string,
    string?,
    string?,
    string?,
  ];
  const end = Bun.file(log).size;
  const fd = openSync(out, "w");
  const t0 = performance.now();
  const c0 = cpuMs();
  let bytes = 0;
  let indexBytes = 0;
  if (method === "member") {
    const a = gzipMember(log, end, {
      ...(workers === undefined ? {} : { workers: Number(workers) }),
      ...(level === undefined ? {} : { level: Number(level) }),
      steps: steps !== "0",
    });
    for await (const c of a.body) {
      writeSync(fd, c);
      bytes += c.length;
    }
    const idx = serializeIndex(a.index());
    writeFileSync(`${out}.idx`, idx);
    indexBytes = idx.length;
  } else {
    for await (const c of gzipFile(log, end)) {
      writeSync(fd, c);
      bytes += c.length;
    }
  }
  closeSync(fd);
  console.log(
    JSON.stringify({ ms: performance.now() - t0, cpuMs: cpuMs() - c0, bytes, rss: peakRss(), indexBytes }),
  );
} else if (cmd === "read") {
  const [log, archive, endpoint, bucket, key, linesArg, deepArg, roundsArg] = args as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const lines = Number(linesArg);
  const deep = Number(deepArg);
  const rounds = Number(roundsArg);
  const sdk = await import("@aws-sdk/client-s3");
  const client = new sdk.S3Client({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  let fetched = 0;
  const get = async (Key: string, Range?: string) =>
    (await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key, ...(Range ? { Range } : {}) })))
      .Body as unknown as AsyncIterable<Uint8Array> & { transformToByteArray(): Promise<Uint8Array> };
  const getRange: GetRange = async function* (start, end) {
    for await (const c of await get(key!, `bytes=${start}-${end - 1}`)) {
      fetched += c.length;
      yield c;
    }
  };
  const source = (): ArchiveSource => ({
    getRange,
    getObject: () => get(key!),
    getIndex: async () => {
      const b = await (await get(`${key}.idx`)).transformToByteArray();
      fetched += b.length;
      return b;
    },
    logBytes: Bun.file(log!).size,
    objectBytes: Bun.file(archive!).size,
  });

  // The local side as the server reads a local log: from the sparse index's checkpoint (every 1,024 lines)
  // at or before the first line, 256 KiB reads into one reused buffer, split into lines, the 100 selected.
  const checkpoints: number[] = [];
  {
    const fd = openSync(log!, "r");
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let line = 0;
    let pos = 0;
    checkpoints.push(0);
    for (let n = readSync(fd, buf, 0, buf.length, 0); n > 0; n = readSync(fd, buf, 0, buf.length, pos)) {
      for (let i = buf.indexOf(10); i !== -1 && i < n; i = buf.indexOf(10, i + 1)) {
        if (++line % 1024 === 0) checkpoints.push(pos + i + 1);
      }
      pos += n;
    }
    closeSync(fd);
  }
  async function localRead(from: number, count: number): Promise<string[]> {
    const ck = Math.floor(from / 1024);
    const fd = openSync(log!, "r");
    const buf = Buffer.allocUnsafe(256 * 1024);
    async function* chunks() {
      for (let pos = checkpoints[ck]!; ; ) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) return;
        pos += n;
        yield buf.subarray(0, n);
      }
    }
    const out: string[] = [];
    try {
      let n = ck * 1024;
      outer: for await (const parts of splitLines(chunks())) {
        for (const text of parts) {
          if (n++ < from) continue;
          out.push(text);
          if (out.length === count) break outer;
        }
      }
    } finally {
      closeSync(fd);
    }
    return out;
  }
  async function ranged(reader: Awaited<ReturnType<typeof openArchive>>, from: number | null, count: number) {
    const out: string[] = [];
    const segs = from === null ? reader.tail(count) : reader.from(from, count);
    for await (const l of readLines(segs, from === null ? { count } : { from, count })) out.push(l.text);
    return out;
  }
  const warm = await openArchive(source());
  if (warm.index === null) throw new Error(`bench: the archive's index was not used: ${warm.fallback}`);
  // The same reads from the .gz file on local disk: the reader's own work (fetch, inflate, check, split).
  const onDisk = await openArchive({ ...source(), getRange: fileRange(archive) });
  const floor: number[] = [];
  const kinds = {
    tailLocal: () => localRead(lines - 100, 100),
    tailRanged: () => ranged(warm, null, 100),
    tailCold: async () => ranged(await openArchive(source()), null, 100),
    tailDisk: () => ranged(onDisk, null, 100),
    deepLocal: () => localRead(deep, 100),
    deepRanged: () => ranged(warm, deep, 100),
    deepCold: async () => ranged(await openArchive(source()), deep, 100),
    deepDisk: () => ranged(onDisk, deep, 100),
  };
  const times: Record<string, number[]> = {};
  const bytes: Record<string, number> = {};
  const results: Record<string, string> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(kinds)) {
      fetched = 0;
      const t0 = performance.now();
      const got = await fn();
      times[name] = [...(times[name] ?? []), performance.now() - t0];
      bytes[name] = fetched;
      if (got.length !== 100) throw new Error(`bench: ${name} read ${got.length} lines, not 100`);
      const sig = `${got[0]}…${got.at(-1)}`;
      const twin = name.replace(/Ranged|Cold|Disk/, "Local");
      if (results[twin] !== undefined && results[twin] !== sig)
        throw new Error(`bench: ${name} read other lines than ${twin}`);
      results[name] = sig;
    }
    // The floor under any ranged read here: one 1-byte Range GET through the same client and server. Not
    // byte 0: s3rver 3.7 reads `bytes=0-0` as `bytes=0-` and sends the whole object.
    const t0 = performance.now();
    for await (const _ of getRange(10, 11));
    floor.push(performance.now() - t0);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  ms.floor = median(floor);
  const blocks = warm.index.blocks;
  const maxBlock = Math.max(...blocks.map((b) => b.end - b.start));
  console.log(JSON.stringify({ ms, bytes, rss: peakRss(), maxBlock, blocks: blocks.length }));
} else {
  throw new Error(`member-child: unknown command ${cmd}`);
}
