// Ranged GETs signed without the SDK's middleware: the URL and the signature the SDK itself would send.
import { describe, expect, setSystemTime, test } from "bun:test";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createS3Target } from "../../src/archive/s3.ts";
import { createSignedGet } from "../../src/archive/signed-get.ts";
import { startS3 } from "../support/s3.ts";

/** The request the SDK itself builds for a GetObject (sent nowhere: the handler keeps it). */
async function sdkRequest(client: S3Client, bucket: string, key: string) {
  let seen: { hostname: string; path: string; protocol: string; port?: number } | null = null;
  client.config.requestHandler = {
    handle: async (req: typeof seen) => {
      seen = req;
      throw new Error("captured");
    },
  } as never;
  await client.send(new GetObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
  const r = seen!;
  return `${r.protocol}//${r.hostname}${r.port ? `:${r.port}` : ""}${r.path}`;
}

const KEYS = [
  "logs/infra/deploy/eu/2025/02/12/2025-02-12T10-56-45_42.jsonl.gz",
  "a key with spaces/and+plus=equals&amp.jsonl.gz",
  "ws/task:with:colons/ünïcødé/(paren)!*'.gz",
];

describe("signed GET", () => {
  test("the URL is the one the SDK sends a GetObject to, for AWS buckets, dotted buckets, other partitions and custom endpoints", async () => {
    process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
    process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";
    const configs = [
      { bucket: "my-logs", region: "eu-west-1" },
      { bucket: "my.dotted.logs", region: "eu-west-1" },
      { bucket: "logs", region: "cn-north-1" },
      { bucket: "stroem-logs", region: "us-east-1", endpoint: "http://127.0.0.1:9000" },
    ];
    for (const cfg of configs) {
      const client = new S3Client({
        region: cfg.region,
        ...(cfg.endpoint ? { endpoint: cfg.endpoint, forcePathStyle: true } : {}),
      });
      const signed = createSignedGet(client, cfg, () => Promise.reject(new Error("not sent")));
      for (const key of KEYS) {
        const sdk = (await sdkRequest(client, cfg.bucket, key)).replace(/\?x-id=GetObject$/, "");
        expect({ cfg, key, url: signed?.url(key) }).toEqual({ cfg, key, url: sdk });
      }
    }
  });

  test("the signature is the SDK's for the same request (s3rver checks none): keys with any characters, a range, If-Match, a session token", async () => {
    setSystemTime(new Date("2026-12-01T20:00:00Z"));
    try {
      for (const sessionToken of [undefined, "a-session-token"]) {
        const credentials = {
          accessKeyId: "AKIDEXAMPLE",
          secretAccessKey: "wJalrXUtnFEMI",
          ...(sessionToken ? { sessionToken } : {}),
        };
        const cfg = { bucket: "my-logs", region: "eu-west-1" };
        const client = new S3Client({ region: cfg.region, credentials });
        // What the SDK adds beyond the request itself (its operation name in the query, its user agent,
        // retry and checksum headers) is taken out just before it signs: the rest is what stroem-logs signs.
        client.middlewareStack.addRelativeTo(
          ((next: (args: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
            const req = args.request as { query: Record<string, unknown>; headers: Record<string, string> };
            delete req.query["x-id"];
            for (const h of [
              "x-amz-user-agent",
              "amz-sdk-invocation-id",
              "amz-sdk-request",
              "x-amz-checksum-mode",
            ])
              delete req.headers[h];
            return next(args);
          }) as never,
          { relation: "before", toMiddleware: "httpSigningMiddleware" },
        );
        let sdk: Record<string, string> = {};
        client.config.requestHandler = {
          handle: async (req: { headers: Record<string, string> }) => {
            sdk = req.headers;
            throw new Error("captured");
          },
        } as never;
        let ours: Record<string, string> = {};
        const signed = createSignedGet(client, cfg, async (_url, init) => {
          ours = init.headers as Record<string, string>;
          return new Response(null, { status: 206 });
        })!;
        for (const key of KEYS) {
          await client
            .send(
              new GetObjectCommand({ Bucket: cfg.bucket, Key: key, Range: "bytes=100-199", IfMatch: '"e"' }),
            )
            .catch(() => {});
          await signed.get(key, { range: "bytes=100-199", "if-match": '"e"' });
          const pick = (h: Record<string, string>) => ({
            authorization: h.authorization,
            date: h["x-amz-date"],
            token: h["x-amz-security-token"],
            payload: h["x-amz-content-sha256"],
          });
          expect({ key, ...pick(ours) }).toEqual({ key, ...pick(sdk) });
          expect(ours.authorization).toContain(
            "SignedHeaders=host;if-match;range;x-amz-content-sha256;x-amz-date",
          );
        }
      }
    } finally {
      setSystemTime();
    }
  });

  test("s3rver answers the signed GET: ranges of keys with any characters", async () => {
    await using s3 = await startS3();
    const bytes = new Uint8Array(4096).map((_, i) => i % 251);
    const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true });
    const cfg = { bucket: s3.bucket, region: "us-east-1", endpoint: s3.endpoint };
    const signed = createSignedGet(client, cfg, (url, init) => fetch(url, init))!;
    for (const key of KEYS) {
      await s3.putRaw(key, bytes);
      const res = await signed.get(key, { range: "bytes=100-199" });
      expect({ key, status: res.status, body: [...new Uint8Array(await res.arrayBuffer())] }).toEqual({
        key,
        status: 206,
        body: [...bytes.subarray(100, 200)],
      });
    }
  });

  test("through the target: a range, a missing key named as missing, a range past the end as no bytes", async () => {
    await using s3 = await startS3();
    const bytes = new Uint8Array(10_000).map((_, i) => i % 253);
    await s3.putRaw("k.gz", bytes);
    const target = createS3Target({ bucket: s3.bucket, region: "us-east-1", endpoint: s3.endpoint });
    const read = async (body: AsyncIterable<Uint8Array>) => {
      const parts: Uint8Array[] = [];
      for await (const p of body) parts.push(p);
      return [...Buffer.concat(parts)];
    };
    s3.requests.length = 0;
    expect(await read(await target.getRange("k.gz", 1000, 3000))).toEqual([...bytes.subarray(1000, 3000)]);
    await s3.settled();
    // One GET: the signed one answered, the SDK was not asked again.
    expect(s3.requests.map((r) => `${r.method} ${r.status} ${r.range}`)).toEqual(["GET 206 bytes=1000-2999"]);
    expect(await read(await target.getRange("k.gz", 20_000, 30_000))).toEqual([]);
    await expect(target.getRange("missing.gz", 0, 10)).rejects.toMatchObject({
      kind: "missing",
      message: expect.stringContaining("object missing.gz is missing"),
    });
  });

  test("a store that redirects the signed GET (a bucket in another region): the SDK's path answers, and the signed GET is not tried again", async () => {
    await using s3 = await startS3();
    const bytes = new Uint8Array(10_000).map((_, i) => i % 247);
    await s3.putRaw("k.gz", bytes);
    // In front of s3rver: a GET without the SDK's invocation header (the signed one) is answered as S3
    // answers a request to the wrong region; everything else goes through.
    const seen = { signed: 0, sdk: 0 };
    using proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        if (req.method === "GET" && !req.headers.has("amz-sdk-invocation-id")) {
          seen.signed++;
          return new Response(
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code></Error>',
            {
              status: 301,
              headers: { "content-type": "application/xml", "x-amz-bucket-region": "us-east-1" },
            },
          );
        }
        if (req.method === "GET") seen.sdk++;
        const res = await fetch(`${s3.endpoint}${url.pathname}${url.search}`, {
          method: req.method,
          headers: req.headers,
          decompress: false,
        });
        return new Response(res.body, { status: res.status, headers: res.headers });
      },
    });
    const target = createS3Target({
      bucket: s3.bucket,
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${proxy.port}`,
    });
    const read = async (body: AsyncIterable<Uint8Array>) => {
      const parts: Uint8Array[] = [];
      for await (const p of body) parts.push(p);
      return [...Buffer.concat(parts)];
    };
    for (const [a, b] of [
      [0, 100],
      [5000, 9000],
      [9990, 10_000],
    ] as const)
      expect(await read(await target.getRange("k.gz", a, b))).toEqual([...bytes.subarray(a, b)]);
    expect(seen).toEqual({ signed: 1, sdk: 3 });
  });
});
