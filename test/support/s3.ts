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
  /** Resolves once no request is being answered: every request made so far is in `requests`. */
  settled(): Promise<void>;
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
  // Requests being answered, and who waits for none to be: a GET a reader closed early is recorded when
  // its connection closes, which may come after the reader's own answer.
  let answering = 0;
  let waiters: Array<() => void> = [];
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
      answering++;
      res.on("close", () => {
        if (--answering > 0) return;
        const w = waiters;
        waiters = [];
        for (const resolve of w) resolve();
      });
      // A GET counts once its answer began ("close" after the headers went out): a read that has its lines
      // may close a GET before its end, when the rest of the range is still on its way. Other requests
      // count once answered whole ("finish"), as before.
      const answered = () => req.method !== "GET" || res.headersSent;
      res.on(req.method === "GET" ? "close" : "finish", () => {
        if (!answered()) return;
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
    settled: () =>
      answering === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)),
    archive: (prefix = "") => archiveBlock(bucket, port, prefix),
    stop,
    start,
    ...objectOps(() => port, bucket),
    async [Symbol.asyncDispose]() {
      await stop();
      if (own) rmSync(own, { recursive: true, force: true });
    },
  };
}

function archiveBlock(bucket: string, port: number, prefix: string) {
  return { type: "s3" as const, bucket, endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", prefix };
}

/** An independent SDK client's view of the bucket (not the server under test's). */
function objectOps(port: () => number, bucket: string) {
  const client = async () => {
    const s3 = await import("@aws-sdk/client-s3");
    return {
      s3,
      c: new s3.S3Client({
        endpoint: `http://127.0.0.1:${port()}`,
        region: "us-east-1",
        forcePathStyle: true,
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      }),
    };
  };
  return {
    async getRaw(key: string) {
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
    async putRaw(key: string, bytes: Uint8Array) {
      const { s3, c } = await client();
      await c.send(new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    },
    async getStream(key: string) {
      const { s3, c } = await client();
      const out = await c.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body as import("node:stream").Readable;
    },
    async remove(key: string) {
      const { s3, c } = await client();
      await c.send(new s3.DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async keys() {
      const { s3, c } = await client();
      const out = await c.send(new s3.ListObjectsV2Command({ Bucket: bucket }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    },
  };
}

/**
 * The same S3 server in a child process of its own, for benchmarks: in the process that also drives the
 * clients (and holds a benchmark's big buffers) s3rver shares that process's event loop and collector, which
 * no production store does. Requests are reported line by line on the child's stdout.
 */
export async function startS3Process(): Promise<TestS3> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "s3-child.ts")], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const requests: S3Request[] = [];
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  const first = Promise.withResolvers<{ port: number; bucket: string; directory: string }>();
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n")) {
        const msg = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if ("port" in msg) first.resolve(msg);
        else requests.push(msg as S3Request);
      }
    }
    first.reject(new Error(`the S3 child exited before listening (code ${await proc.exited})`));
  })();
  const { port, bucket, directory } = await first.promise;
  const unsupported = async () => {
    throw new Error("the S3 child process cannot be stopped and restarted; use startS3()");
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    directory,
    requests,
    settled: async () => {
      throw new Error("the S3 child process does not report the requests it is answering; use startS3()");
    },
    archive: (prefix = "") => archiveBlock(bucket, port, prefix),
    stop: unsupported,
    start: unsupported,
    ...objectOps(() => port, bucket),
    async [Symbol.asyncDispose]() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
