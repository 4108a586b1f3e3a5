// Test support: a real S3-compatible server (s3rver) in this process on port 0, disposed with `await using`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error s3rver ships no types
import S3rver from "s3rver";

// s3rver checks signatures against these; the server under test finds them through the default AWS chain.
process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";

/** One request as the S3 server answered it. */
export interface S3Request {
  method: string;
  /** The path, e.g. `/stroem-logs/some/key`. */
  path: string;
  /** The Range header, when the request had one. */
  range: string | null;
  status: number;
  /** Bytes of the response body (its Content-Length). */
  bytes: number;
}

export interface TestS3 {
  endpoint: string;
  port: number;
  bucket: string;
  /** Where s3rver keeps its objects; a restart on the same port and directory keeps them. */
  directory: string;
  /** The `log_storage.archive` config block for this server. */
  archive(prefix?: string): { type: "s3"; bucket: string; endpoint: string; region: string; prefix: string };
  /** Stops the S3 server (for outage tests); `start()` brings it back on the same port and directory. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** An independent client's view: the stored bytes of `key` (null when missing), and the keys stored. */
  getRaw(key: string): Promise<{ bytes: Uint8Array<ArrayBuffer>; contentType: string | undefined } | null>;
  putRaw(key: string, bytes: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
  /** The stored bytes of `key`, streamed. */
  getStream(key: string): Promise<import("node:stream").Readable>;
  keys(): Promise<string[]>;
  /** Every request answered so far, in order (for tests that count fetches); clear it with `length = 0`. */
  requests: S3Request[];
  [Symbol.asyncDispose](): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer: import("node:http").Server;
}

export async function startS3(opts: { bucket?: string; directory?: string } = {}): Promise<TestS3> {
  const bucket = opts.bucket ?? "stroem-logs";
  const own = opts.directory === undefined ? mkdtempSync(join(tmpdir(), "stroem-s3-")) : null;
  const directory = opts.directory ?? own!;
  let port = 0;
  let server: S3rverInstance | null = null;
  const requests: S3Request[] = [];
  const start = async () => {
    const s: S3rverInstance = new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory,
      configureBuckets: [{ name: bucket }],
    });
    port = (await s.run()).port;
    s.httpServer.on("request", (req, res) => {
      res.on("finish", () => {
        requests.push({
          method: req.method ?? "",
          path: decodeURIComponent((req.url ?? "").split("?")[0]!),
          range: req.headers.range ?? null,
          status: res.statusCode,
          bytes: Number(res.getHeader("content-length") ?? 0),
        });
      });
    });
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = null;
    await s?.close();
  };
  await start();
  const client = async () => {
    const s3 = await import("@aws-sdk/client-s3");
    return {
      s3,
      c: new s3.S3Client({
        endpoint: `http://127.0.0.1:${port}`,
        region: "us-east-1",
        forcePathStyle: true,
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      }),
    };
  };
  return {
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    bucket,
    directory,
    requests,
    archive: (prefix = "") => ({
      type: "s3",
      bucket,
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      prefix,
    }),
    stop,
    start,
    async getRaw(key) {
      const { s3, c } = await client();
      try {
        const out = await c.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key }));
        return {
          bytes: new Uint8Array(await out.Body!.transformToByteArray()),
          contentType: out.ContentType,
        };
      } catch (e) {
        if ((e as Error).name === "NoSuchKey") return null;
        throw e;
      }
    },
    async putRaw(key, bytes) {
      const { s3, c } = await client();
      await c.send(new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    },
    async getStream(key) {
      const { s3, c } = await client();
      const out = await c.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body as import("node:stream").Readable;
    },
    async remove(key) {
      const { s3, c } = await client();
      await c.send(new s3.DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async keys() {
      const { s3, c } = await client();
      const out = await c.send(new s3.ListObjectsV2Command({ Bucket: bucket }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    },
    async [Symbol.asyncDispose]() {
      await stop();
      if (own) rmSync(own, { recursive: true, force: true });
    },
  };
}
