// A streamed (ndjson) read of a broken archive: a JSON 502 when it fails at open time, a failed read after.
import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { startS3 } from "../support/s3.ts";
import { makeLines, startTestServer, type TestServer } from "../support/server.ts";
import { DEADLINE_MS, untilEvent } from "../support/wait.ts";

type Archive = { state: string; key: string; log_bytes: number };

/** Runs a job of `n` lines, waits for its verified archive, and removes the local file so reads use it. */
async function archivedJob(
  s: TestServer,
  id: string,
  n: number,
): Promise<{ archive: Archive; local: Buffer }> {
  for (let i = 0; i < n; i += 1000) {
    await s.post(`/worker/jobs/${id}/logs`, {
      step_name: "build",
      lines: makeLines(Math.min(1000, n - i), "l", "stdout", i),
    });
  }
  await s.post(`/worker/jobs/${id}/complete`, { status: "completed" });
  const archive = await untilEvent(s.events, "archive.uploaded", `the archive of ${id}`, async () => {
    const j = (await (await s.fetch(`/api/jobs/${id}`)).json()) as { bytes: number; archive: Archive | null };
    return j.archive?.state === "uploaded" && j.archive.log_bytes === j.bytes ? j.archive : undefined;
  });
  const local = readFileSync(join(s.dir, `${id}.jsonl`));
  rmSync(join(s.dir, `${id}.jsonl`));
  return { archive, local };
}

/** Reads a streamed answer chunk by chunk: the status, the bytes received, and how the body ended. */
async function streamed(s: TestServer, path: string) {
  const res = await s.fetch(path);
  const chunks: Uint8Array[] = [];
  let end = "clean";
  try {
    for await (const chunk of res.body!) chunks.push(chunk);
  } catch (e) {
    end = `failed: ${(e as Error).message.split(":")[0]}`;
  }
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    text: Buffer.concat(chunks).toString(),
    end,
  };
}

describe("streamed reads of a broken archive", () => {
  test("a corrupt gzip header, a missing object and an unreachable S3 answer a JSON 502 before any byte", async () => {
    await using s3 = await startS3();
    await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
    const corrupt = await archivedJob(s, "corrupt", 10);
    const missing = await archivedJob(s, "missing", 10);
    await archivedJob(s, "unreachable", 10);
    await s3.putRaw(corrupt.archive.key, new TextEncoder().encode("this is not gzip"));
    await s3.remove(missing.archive.key);
    const before = {
      corrupt: await streamed(s, "/api/jobs/corrupt/logs?format=ndjson"),
      missing: await streamed(s, "/api/jobs/missing/steps/build/logs?format=ndjson&tail=3"),
    };
    await s3.stop();
    const unreachable = await streamed(s, "/api/jobs/unreachable/logs?format=ndjson");
    const json = "application/json";
    const prefix = "archive of job";
    expect({ ...before, unreachable }).toEqual({
      corrupt: {
        status: 502,
        type: json,
        text: JSON.stringify({
          error: `${prefix} corrupt could not be read: s3://${s3.bucket}/${corrupt.archive.key}: corrupt or unreadable archive (Z_DATA_ERROR: incorrect header check)`,
          code: "archive_unreadable",
        }),
        end: "clean",
      },
      missing: {
        status: 502,
        type: json,
        text: JSON.stringify({
          error: `${prefix} missing could not be read: object ${missing.archive.key} is missing from s3://${s3.bucket} at ${s3.endpoint}`,
          code: "archive_unreadable",
        }),
        end: "clean",
      },
      unreachable: {
        status: 502,
        type: json,
        text: JSON.stringify({
          error: `${prefix} unreachable could not be read: cannot reach ${s3.endpoint}: connect ECONNREFUSED 127.0.0.1:${s3.port}`,
          code: "archive_unreadable",
        }),
        end: "clean",
      },
    });
  });

  test("an archive that breaks after bytes were sent ends in a failed read, never a clean shorter end", async () => {
    await using s3 = await startS3();
    await using s = await startTestServer({ log_storage: { archive: s3.archive() } });
    const short = await archivedJob(s, "short", DEADLINE_MS);
    const torn = await archivedJob(s, "torn", DEADLINE_MS);
    // A valid gzip of the first half: every byte decodes, but fewer than were archived.
    const half = short.local.subarray(0, short.local.indexOf(10, short.local.length >> 1) + 1);
    await s3.putRaw(short.archive.key, gzipSync(half));
    // A valid first member followed by bytes that are not gzip.
    await s3.putRaw(
      torn.archive.key,
      Buffer.concat([
        gzipSync(torn.local.subarray(0, 1 << 20)),
        Buffer.from("garbage after the first member"),
      ]),
    );
    const reads = {
      short: await streamed(s, "/api/jobs/short/logs?format=ndjson"),
      torn: await streamed(s, "/api/jobs/torn/logs?format=ndjson"),
    };
    const shape = (r: typeof reads.short, local: Buffer) => ({
      status: r.status,
      type: r.type,
      end: r.end,
      // The status went out with the first batch; the reset may drop what was still in flight, even mid-line:
      // the client holds a prefix of the log and knows it is incomplete.
      prefixOfLog: local.toString().startsWith(r.text),
      shorter: r.text.length < local.length,
    });
    const expected = {
      status: 200,
      type: "application/x-ndjson; charset=utf-8",
      end: expect.stringMatching(/^failed: /) as unknown as string,
      prefixOfLog: true,
      shorter: true,
    };
    expect({ short: shape(reads.short, short.local), torn: shape(reads.torn, torn.local) }).toEqual({
      short: expected,
      torn: expected,
    });
    // The server stays up and serves the intact archive of another job.
    const ok = await archivedJob(s, "ok", 5);
    expect(await streamed(s, "/api/jobs/ok/logs?format=ndjson")).toEqual({
      status: 200,
      type: "application/x-ndjson; charset=utf-8",
      text: ok.local.toString(),
      end: "clean",
    });
  });
});
