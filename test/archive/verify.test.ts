// Verification reads the stored object back: the same bytes pass, one flipped byte or a missing object fails.
import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createLocalTarget } from "../../src/archive/local.ts";
import { createDigester, verifyStored } from "../../src/archive/verify.ts";
import { tempDir } from "../support/server.ts";

async function* parts(...chunks: string[]) {
  for (const c of chunks) yield new TextEncoder().encode(c);
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "verified";
  } catch (e) {
    return (e as Error).message;
  }
}

describe("verifyStored", () => {
  test("the stored bytes pass; one flipped byte of the same size and a missing object fail, naming what differs", async () => {
    using dir = tempDir();
    const target = createLocalTarget(dir.path);
    const sent = createDigester();
    const body = (async function* () {
      for await (const p of parts("first member ", "second member")) {
        sent.update(p);
        yield p;
      }
    })();
    await target.put("a/b.gz", body, new AbortController().signal);
    const digest = sent.digest();
    const signal = new AbortController().signal;
    const good = await outcome(verifyStored(target, "a/b.gz", digest, signal));

    const path = target.locate("a/b.gz");
    const bytes = readFileSync(path);
    bytes[3]! ^= 0xff;
    writeFileSync(path, bytes);
    const flipped = await outcome(verifyStored(target, "a/b.gz", digest, signal));
    const flippedSha = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    rmSync(path);
    const missing = await outcome(verifyStored(target, "a/b.gz", digest, signal));

    expect({ digest, good, flipped, missing }).toEqual({
      digest: {
        bytes: 26,
        sha256: new Bun.CryptoHasher("sha256").update("first member second member").digest("hex"),
      },
      good: "verified",
      flipped: `verification failed: ${path} holds 26 bytes with sha-256 ${flippedSha}, but the 26 bytes compressed locally have sha-256 ${digest.sha256}`,
      missing: `verification failed: reading back ${path}: archive file ${path} is missing`,
    });
  });
});
