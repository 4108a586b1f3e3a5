// Sealing registered secrets at rest: AES-256-GCM bound to the job, and the key file's formats.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createVault, readKeyFile } from "../../src/masking/vault.ts";
import { tempDir } from "../support/server.ts";

const KEY = new Uint8Array(32).fill(9);
const VALUES = ["token-one-abcdef", "multi\nline\nkey-value"];

describe("vault", () => {
  test("sealed values open for their job under their key, with a fresh nonce each time", () => {
    const v = createVault(KEY);
    const a = v.seal("job-1", VALUES);
    const b = v.seal("job-1", VALUES);
    expect([v.open("job-1", a), v.open("job-1", b), Buffer.from(a).equals(Buffer.from(b))]).toEqual([
      VALUES,
      VALUES,
      false,
    ]);
    for (const value of VALUES) expect(Buffer.from(a).includes(Buffer.from(value))).toBe(false);
  });

  test("sealed values do not open for another job, under another key, or altered", () => {
    const v = createVault(KEY);
    const sealed = v.seal("job-1", VALUES);
    const altered = new Uint8Array(sealed);
    altered[20]! ^= 1;
    expect(() => v.open("job-2", sealed)).toThrow();
    expect(() => createVault(new Uint8Array(32).fill(8)).open("job-1", sealed)).toThrow();
    expect(() => v.open("job-1", altered)).toThrow();
    expect(() => v.open("job-1", sealed.subarray(0, 10))).toThrow("too short");
  });

  test("a key file holds 64 hex digits or base64 of 32 bytes; anything else is refused naming the file, not its content", () => {
    using dir = tempDir();
    const at = (name: string, text: string) => {
      const p = join(dir.path, name);
      writeFileSync(p, text);
      return p;
    };
    expect(readKeyFile(at("hex", `${"ab".repeat(32)}\n`))).toEqual(Buffer.alloc(32, 0xab));
    expect(readKeyFile(at("b64", Buffer.alloc(32, 5).toString("base64")))).toEqual(Buffer.alloc(32, 5));
    const short = at("short", "ab".repeat(16));
    expect(() => readKeyFile(short)).toThrow(
      `masking.key_file: ${short} must hold a 256-bit key: 64 hex digits (openssl rand -hex 32) or 32 bytes in base64 (openssl rand -base64 32); it holds 32 characters of something else`,
    );
    expect(() => readKeyFile(join(dir.path, "missing"))).toThrow(
      `masking.key_file: cannot read ${join(dir.path, "missing")}`,
    );
  });
});
