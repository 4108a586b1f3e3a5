// Registered secrets at rest: AES-256-GCM under the key of `masking.key_file`, bound to their job's id.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.ts";

export interface Vault {
  /** The values sealed for job `jobId`: iv (12) ‖ ciphertext ‖ tag (16), a fresh iv each time. */
  seal(jobId: string, values: readonly string[]): Uint8Array;
  /** The values; throws when the bytes were not sealed for this job under this key (or were altered). */
  open(jobId: string, sealed: Uint8Array): string[];
}

const IV = 12;
const TAG = 16;

/**
 * The key in `path`: 64 hex digits (`openssl rand -hex 32`) or the base64 of 32 bytes, surrounding
 * whitespace ignored. Refused with a message that names the file and what it must hold, never its content.
 */
export function readKeyFile(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new UsageError(`masking.key_file: cannot read ${path}: ${(e as Error).message}`);
  }
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) {
    const key = Buffer.from(text, "base64");
    if (key.length === 32) return key;
  }
  throw new UsageError(
    `masking.key_file: ${path} must hold a 256-bit key: 64 hex digits (openssl rand -hex 32) or 32 bytes in ` +
      `base64 (openssl rand -base64 32); it holds ${text.length} characters of something else`,
  );
}

export function createVault(key: Uint8Array): Vault {
  if (key.length !== 32) throw new RangeError(`an AES-256 key is 32 bytes (got ${key.length})`);
  return {
    seal(jobId, values) {
      const iv = randomBytes(IV);
      const c = createCipheriv("aes-256-gcm", key, iv);
      // The job id as associated data: a sealed row copied onto another job does not open there.
      c.setAAD(Buffer.from(jobId, "utf8"));
      const body = Buffer.concat([c.update(JSON.stringify(values), "utf8"), c.final()]);
      return new Uint8Array(Buffer.concat([iv, body, c.getAuthTag()]));
    },
    open(jobId, sealed) {
      if (sealed.length < IV + TAG) throw new Error(`sealed secrets of ${sealed.length} bytes: too short`);
      const buf = Buffer.from(sealed);
      const d = createDecipheriv("aes-256-gcm", key, buf.subarray(0, IV));
      d.setAAD(Buffer.from(jobId, "utf8"));
      d.setAuthTag(buf.subarray(buf.length - TAG));
      const text = Buffer.concat([d.update(buf.subarray(IV, buf.length - TAG)), d.final()]).toString("utf8");
      const values = JSON.parse(text) as unknown;
      if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) {
        throw new Error("sealed secrets: not a list of strings");
      }
      return values;
    },
  };
}
