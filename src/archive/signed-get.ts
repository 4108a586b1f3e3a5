// Ranged GETs of archived logs, signed here (SigV4, the SDK's own signer) and sent with fetch.
//
// A read of an archived log is one small Range GET. Through the SDK's middleware stack it cost ~1 ms of CPU
// more than the same signed request sent with fetch (measured against s3rver, interleaved: 2.6 ms against
// 1.6 ms), ~15% of a 100-line archived read. The endpoint and the signing scope come from the SDK's own
// endpoint rules and the credentials from its default chain, so the request is the one the SDK would send
// (test/archive/signed-get.test.ts compares the two). Anything but a plain answer goes back to the SDK, with
// its retries and error parsing: see `getObject` in s3.ts.
import { SignatureV4 } from "@smithy/signature-v4";

type Client = import("@aws-sdk/client-s3").S3Client;

export interface SignedGet {
  /** The URL of `key` in the bucket. */
  url(key: string): string;
  /** Sends the GET: the store's answer as it is, whatever its status. */
  get(key: string, headers: Record<string, string>): Promise<Response>;
}

/** The SHA-256 of an empty body, as the SDK sends it with a GET. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

interface AuthScheme {
  name?: string;
  signingName?: string;
  signingRegion?: string;
}

/**
 * A signed GET for plain SigV4 buckets; null where the SDK's rules say otherwise (S3 Express, multi-region
 * access points, SigV4a): those reads stay with the SDK.
 */
export function createSignedGet(
  client: Client,
  cfg: { bucket: string; region: string; endpoint?: string | undefined },
  fetchImpl: (url: string, init: RequestInit) => Promise<Response>,
): SignedGet | null {
  const config = client.config as unknown as {
    endpointProvider: (params: Record<string, unknown>) => {
      url: URL;
      properties?: { authSchemes?: AuthScheme[] };
    };
    credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
    sha256: ConstructorParameters<typeof SignatureV4>[0]["sha256"];
  };
  let resolved: ReturnType<typeof config.endpointProvider>;
  try {
    resolved = config.endpointProvider({
      Bucket: cfg.bucket,
      Region: cfg.region,
      UseFIPS: false,
      UseDualStack: false,
      Accelerate: false,
      ForcePathStyle: cfg.endpoint !== undefined,
      ...(cfg.endpoint !== undefined ? { Endpoint: cfg.endpoint } : {}),
    });
  } catch {
    return null;
  }
  const scheme = resolved.properties?.authSchemes?.[0];
  if (scheme?.name !== "sigv4" || scheme.signingName !== "s3") return null;
  const base = resolved.url;
  const prefix = base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`;
  const signer = new SignatureV4({
    credentials: config.credentials,
    region: scheme.signingRegion ?? cfg.region,
    service: "s3",
    sha256: config.sha256,
    // S3 signs the path as sent, not escaped twice (the SDK's disableDoubleEncoding).
    uriEscapePath: false,
    applyChecksum: false,
  });
  const pathOf = (key: string) => `${prefix}${key.split("/").map(escapeSegment).join("/")}`;
  return {
    url: (key) => `${base.protocol}//${base.host}${pathOf(key)}`,
    async get(key, headers) {
      const request = await signer.sign({
        method: "GET",
        protocol: base.protocol,
        hostname: base.hostname,
        ...(base.port ? { port: Number(base.port) } : {}),
        path: pathOf(key),
        query: {},
        headers: { ...headers, host: base.host, "x-amz-content-sha256": EMPTY_SHA256 },
      });
      return fetchImpl(`${base.protocol}//${base.host}${request.path}`, {
        headers: request.headers,
        redirect: "manual",
        decompress: false,
      } as RequestInit);
    },
  };
}

/** A key's path segment as S3 (and the SDK) escape it: RFC 3986 unreserved characters stay, the rest %XX. */
export function escapeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
