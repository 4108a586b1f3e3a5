// The S3 target: lazily loaded SDK, multipart uploads through lib-storage, streamed downloads on their own pool.
import { Readable } from "node:stream";
import { createFetchHandler, timedFetch } from "./fetch-handler.ts";
import { createReadGate } from "./read-gate.ts";
import { createSignedGet, type SignedGet } from "./signed-get.ts";
import { type ArchiveTarget, type ReadUse, reason, TargetError } from "./target.ts";

export interface S3TargetConfig {
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  /** Client reads of archived logs (see `log_storage.archive_reads`). */
  reads?: ArchiveReadLimits;
}

export interface ArchiveReadLimits {
  max_open: number;
  stall_timeout: number;
  wait_timeout: number;
}

type Client = import("@aws-sdk/client-s3").S3Client;
type Sdk = {
  s3: typeof import("@aws-sdk/client-s3");
  Upload: typeof import("@aws-sdk/lib-storage").Upload;
  /** Uploads, verification, restores, deletes and probes: the archiver's own work. */
  client: Client;
  /** Client reads of archived logs only: however they stall, the archiver's pool stays free. */
  reader: Client;
  /** The reader's plain GETs, without the SDK's middleware; null where the bucket needs the SDK. */
  signed: SignedGet | null;
};

/** What a GET answered, as far as a read checks it. */
interface Answer {
  etag?: string | undefined;
  contentRange?: string | undefined;
}

const READ_TIMEOUTS = { headersTimeout: 30_000, idleTimeout: 30_000 };

/** 8 MiB parts, two in flight: the upload holds ~16-24 MiB whatever the log's size. */
const PART_BYTES = 8 * 1024 * 1024;
const QUEUE = 2;
export const DEFAULT_READS: ArchiveReadLimits = { max_open: 32, stall_timeout: 10_000, wait_timeout: 30_000 };
/** A stalled read gives its connection to a waiting one after this long (or stall_timeout, if shorter). */
const GRACE_MS = 1_000;

export function createS3Target(cfg: S3TargetConfig): ArchiveTarget {
  const where = `s3://${cfg.bucket}${cfg.endpoint ? ` at ${cfg.endpoint}` : ` in ${cfg.region}`}`;
  const reads = cfg.reads ?? DEFAULT_READS;
  let sdk: Promise<Sdk> | null = null;
  const gate = createReadGate({
    slots: reads.max_open,
    stallMs: reads.stall_timeout,
    graceMs: Math.min(GRACE_MS, reads.stall_timeout),
    waitMs: reads.wait_timeout,
    setting: "log_storage.archive_reads.max_open",
  });

  // The SDK is most of the start-up cost of the binary: load it on first use.
  function load(): Promise<Sdk> {
    sdk ??= (async () => {
      const [s3, storage] = await Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/lib-storage")]);
      // Client reads are many small GETs: signed here and sent with fetch (signed-get.ts), and where that
      // does not answer plainly, through the reader client: also fetch (its own pool: the read gate bounds
      // how many reads hold a connection), its middleware stack built once, not per request (~0.3 ms a GET).
      // Two clients, two socket pools (the SDK's default pool is 50 sockets): ~60 viewers of an archived log
      // that never read held every socket of a shared pool, and uploads, verification and probes then timed out.
      const make = (extra: Partial<import("@aws-sdk/client-s3").S3ClientConfig>) =>
        new s3.S3Client({
          region: cfg.region,
          ...(cfg.endpoint ? { endpoint: cfg.endpoint, forcePathStyle: true } : {}),
          // Default checksums make some S3-compatible stores keep aws-chunked framing inside the object.
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
          ...extra,
        });
      const reader = make({ requestHandler: createFetchHandler(READ_TIMEOUTS), cacheMiddleware: true });
      return {
        s3,
        Upload: storage.Upload,
        client: make({ requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 } }),
        reader,
        signed: createSignedGet(reader, cfg, (url, init) => timedFetch(url, init, READ_TIMEOUTS)),
      };
    })();
    return sdk;
  }

  function classify(e: unknown, what: string): TargetError {
    if (e instanceof TargetError) return e;
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = err.$metadata?.httpStatusCode;
    const name = err.name ?? "Error";
    if (name === "CredentialsProviderError") {
      return new TargetError(
        `no AWS credentials found by the default chain (environment, shared config/credentials files, container or instance role): ${reason(e)}`,
        "denied",
        e,
      );
    }
    if (
      status === 403 ||
      ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"].includes(name)
    ) {
      return new TargetError(
        `access denied to bucket ${cfg.bucket} (${[status === undefined ? "" : `HTTP ${status}`, /^(Forbidden|Unknown|\d+)$/.test(name) ? "" : name].filter(Boolean).join(" ")}) while ${what}: check the credentials the AWS default chain finds and the bucket policy`,
        "denied",
        e,
      );
    }
    if (name === "NoSuchBucket" || (what === "checking the bucket" && status === 404)) {
      return new TargetError(`bucket ${cfg.bucket} does not exist`, "missing", e);
    }
    if (status === undefined) {
      return new TargetError(
        `cannot reach ${cfg.endpoint ?? `S3 in ${cfg.region}`}: ${reason(e)}`,
        "unreachable",
        e,
      );
    }
    return new TargetError(`${what} failed: HTTP ${status} ${name}: ${reason(e)}`, "other", e);
  }

  /**
   * Bytes [start, end) of `key` (to its end without `end`). A client read goes through the read gate: when
   * it is dropped while stalled, it continues with a ranged GET at the byte it stopped at, `If-Match` the
   * first answer's ETag, so another object (a re-archive) is never spliced in.
   */
  async function read(
    key: string,
    start: number,
    end: number | undefined,
    use: ReadUse,
  ): Promise<AsyncIterable<Uint8Array>> {
    const sdkNow = await load();
    const { s3, client, reader } = sdkNow;
    const getObject = async (c: Client, offset: number, etag: string | undefined) => {
      const from = start + offset;
      const ranged = from > 0 || end !== undefined;
      const range = ranged ? `bytes=${from}-${end === undefined ? "" : end - 1}` : undefined;
      /** The checks every answer passes, the SDK's or the signed GET's. */
      const accept = (body: AsyncIterable<Uint8Array>, got: Answer) => {
        // A store that ignores If-Match must not splice another object (a re-archive) into a read.
        if (etag !== undefined && got.etag !== etag) {
          discard(body);
          throw new TargetError(`object ${key} changed while it was being read; read again`, "other");
        }
        if (ranged && !got.contentRange?.startsWith(`bytes ${from}-`)) {
          // A store that ignores Range answers the whole object: pass over what was not asked for.
          if (got.contentRange === undefined) return { body: slice(body, from, end), etag: got.etag };
          discard(body);
          throw new TargetError(
            `object ${key}: asked for bytes ${from}-, the store answered ${got.contentRange}`,
            "other",
          );
        }
        return { body, etag: got.etag };
      };
      if (c === reader && sdkNow.signed !== null) {
        const fast = await signedGet(sdkNow.signed, key, range, etag);
        if (typeof fast !== "number") return accept(fast.body, fast);
        // A redirect, a bad request or a refusal says the signed GET is wrong for this bucket (another
        // region, a clock the SDK corrects for): the SDK's path from now on, which knows what to do.
        if (WRONG_FOR_BUCKET.has(fast)) sdkNow.signed = null;
      }
      try {
        const out = await c.send(
          new s3.GetObjectCommand({
            Bucket: cfg.bucket,
            Key: key,
            ...(range ? { Range: range } : {}),
            ...(etag ? { IfMatch: etag } : {}),
          }),
        );
        return accept(out.Body as unknown as AsyncIterable<Uint8Array>, {
          etag: out.ETag,
          contentRange: out.ContentRange,
        });
      } catch (e) {
        const err = e as { name?: string };
        if (err.name === "NoSuchKey")
          throw new TargetError(`object ${key} is missing from ${where}`, "missing");
        // A range that starts past the object's end: as the contract says, fewer bytes (none), not an error.
        if (
          ranged &&
          (err.name === "InvalidRange" ||
            (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416)
        )
          return { body: (async function* () {})() as AsyncIterable<Uint8Array>, etag: undefined };
        if (err.name === "PreconditionFailed")
          throw new TargetError(`object ${key} changed while it was being read; read again`, "other");
        throw classify(e, `downloading ${key}`);
      }
    };
    if (use === "archiver") return (await getObject(client, 0, undefined)).body;
    let etag: string | undefined;
    return gate.open(async (offset) => {
      const out = await getObject(reader, offset, etag);
      etag ??= out.etag;
      return out.body;
    });
  }

  const target: ArchiveTarget = {
    where,
    readStats: gate.stats,
    locate: (key) => `s3://${cfg.bucket}/${key}`,

    async put(key, body, signal) {
      const { Upload, client } = await load();
      const abortController = new AbortController();
      const onAbort = () => abortController.abort();
      signal.addEventListener("abort", onAbort);
      try {
        const upload = new Upload({
          client,
          queueSize: QUEUE,
          partSize: PART_BYTES,
          leavePartsOnError: false,
          abortController,
          // One gzip member at a time: object mode would otherwise read ahead 16 members.
          params: {
            Bucket: cfg.bucket,
            Key: key,
            Body: Readable.from(body, { highWaterMark: 1 }),
            ContentType: "application/gzip",
          },
        });
        await upload.done();
      } catch (e) {
        throw classify(e, `uploading ${key}`);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },

    get: (key, use: ReadUse = "read") => read(key, 0, undefined, use),

    async getRange(key, start, end, use: ReadUse = "read") {
      if (end <= start) return (async function* () {})();
      return read(key, start, end, use);
    },

    async delete(key) {
      const { s3, client } = await load();
      try {
        await client.send(new s3.DeleteObjectCommand({ Bucket: cfg.bucket, Key: key }));
      } catch (e) {
        throw classify(e, `deleting ${key}`);
      }
    },

    async check({ write }) {
      try {
        const { s3, client } = await load();
        try {
          await client.send(new s3.HeadBucketCommand({ Bucket: cfg.bucket }));
        } catch (e) {
          throw classify(e, "checking the bucket");
        }
        if (!write) return null;
        const key = `.stroem-logs-check-${crypto.randomUUID()}`;
        async function* probe() {
          yield new TextEncoder().encode("stroem-logs check-config --connect\n");
        }
        await target.put(key, probe(), new AbortController().signal);
        try {
          await client.send(new s3.DeleteObjectCommand({ Bucket: cfg.bucket, Key: key }));
        } catch (e) {
          return `wrote ${key} but could not delete it: ${classify(e, `deleting ${key}`).message}`;
        }
        return null;
      } catch (e) {
        return classify(e, "checking the bucket").message;
      }
    },
  };
  return target;
}

/** Answers to a signed GET that say it will not work for this bucket, whatever the key. */
const WRONG_FOR_BUCKET = new Set([301, 302, 307, 308, 400, 403]);

/**
 * A GET signed here: the body and what the checks need when the store answered 200 or 206; for anything
 * else its status (0: no answer: no connection, no credentials), and the SDK's path then retries, parses
 * and names it.
 */
async function signedGet(
  signed: SignedGet,
  key: string,
  range: string | undefined,
  etag: string | undefined,
): Promise<(Answer & { body: AsyncIterable<Uint8Array> }) | number> {
  let res: Response;
  try {
    res = await signed.get(key, { ...(range ? { range } : {}), ...(etag ? { "if-match": etag } : {}) });
  } catch {
    return 0;
  }
  if ((res.status !== 200 && res.status !== 206) || res.body === null) {
    void res.body?.cancel().catch(() => {});
    return res.status;
  }
  return {
    body: res.body,
    etag: res.headers.get("etag") ?? undefined,
    contentRange: res.headers.get("content-range") ?? undefined,
  };
}

/** Closes a body not read (a node stream from the archiver's client, a web stream from the reader's). */
function discard(body: AsyncIterable<Uint8Array>): void {
  const b = body as { destroy?: () => void; cancel?: () => Promise<void> };
  if (b.destroy) b.destroy();
  else void b.cancel?.().catch(() => {});
}

/** Bytes [from, end) of a whole object's body. */
async function* slice(
  body: AsyncIterable<Uint8Array>,
  from: number,
  end: number | undefined,
): AsyncGenerator<Uint8Array> {
  let pos = 0;
  for await (const chunk of body) {
    const a = Math.max(0, from - pos);
    const b = end === undefined ? chunk.length : Math.min(chunk.length, end - pos);
    pos += chunk.length;
    if (a < b) yield chunk.subarray(a, b);
    if (end !== undefined && pos >= end) return;
  }
}
