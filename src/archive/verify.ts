// Verification of an uploaded archive: the object the target stored, read back, against the bytes compressed here.
import { type ArchiveTarget, reason, TargetError } from "./target.ts";

/** Size and SHA-256 of a byte stream. */
export interface Digest {
  bytes: number;
  sha256: string;
}

/** Hashes parts as they pass: the archiver feeds it every gzip member it hands to the upload. */
export function createDigester(): { update(part: Uint8Array): void; digest(): Digest } {
  const hasher = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  return {
    update(part) {
      hasher.update(part);
      bytes += part.length;
    },
    digest: () => ({ bytes, sha256: hasher.digest("hex") }),
  };
}

/** Pure: the difference between what was sent and what is stored, or null when they are the same bytes. */
export function mismatch(where: string, sent: Digest, stored: Digest): string | null {
  if (sent.bytes === stored.bytes && sent.sha256 === stored.sha256) return null;
  return `verification failed: ${where} holds ${stored.bytes} bytes with sha-256 ${stored.sha256}, but the ${sent.bytes} bytes compressed locally have sha-256 ${sent.sha256}`;
}

/**
 * Reads `key` back whole and throws unless it holds exactly the bytes `sent` describes. A size check passes
 * a byte flipped in transit; S3's own checksums would spare the read, but s3rver and other S3-compatible
 * stores ignore `x-amz-checksum-*`, and an ETag is no MD5 of the object for multipart or SSE-KMS uploads.
 * A read-back is the one check every store answers the same way. Separate from the upload so that a later
 * format (a seek index beside the archive) can verify every object it writes the same way.
 */
export async function verifyStored(
  target: ArchiveTarget,
  key: string,
  sent: Digest,
  signal: AbortSignal,
): Promise<Digest> {
  const stored = createDigester();
  try {
    for await (const chunk of await target.get(key, "archiver")) {
      signal.throwIfAborted();
      stored.update(chunk);
    }
  } catch (e) {
    // Unreachable or denied says something about the target (readiness shows it); anything else is this object.
    if (e instanceof TargetError && (e.kind === "unreachable" || e.kind === "denied")) throw e;
    if (signal.aborted) throw e;
    throw new TargetError(`verification failed: reading back ${target.locate(key)}: ${reason(e)}`, "other");
  }
  const digest = stored.digest();
  const problem = mismatch(target.locate(key), sent, digest);
  if (problem !== null) throw new TargetError(problem, "other");
  return digest;
}
