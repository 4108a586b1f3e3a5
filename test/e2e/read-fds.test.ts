// No read leaves a descriptor behind in the server process: HEAD, aborted, half-read, every format, every tier.
import { expect, test } from "bun:test";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { spawnServer } from "../support/process.ts";
import { startS3 } from "../support/s3.ts";
import { makeLines, tempDir } from "../support/server.ts";
import { DEADLINE_MS, waitFor } from "../support/wait.ts";

// ~2 MB local and legacy logs, so many aborts land mid-body; the archived one smaller, as each of its tails
// decompresses it twice (most of this test's time otherwise).
const LINES = 20_000;
const ARCHIVED_LINES = 5_000;

/** Sends a raw GET and hangs up after `bytes` bytes of the answer (0: right after sending). */
function abortAfter(url: string, path: string, headers: string, bytes: number): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let got = 0;
    const sock = connect(Number(port), hostname, () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`);
      if (bytes === 0) sock.destroy();
    });
    sock.on("data", (d) => {
      got += d.length;
      if (got >= bytes) sock.destroy();
    });
    sock.on("close", () => resolve(got));
    sock.on("error", reject);
  });
}

test("5,000 mixed reads (HEAD and GET, json and ndjson, aborted, half-read) of every tier leave the server's open files at their baseline", async () => {
  await using s3 = await startS3();
  using dir = tempDir();
  await using server = await spawnServer(
    { log_storage: { archive: s3.archive() }, limits: { max_read_bytes: "256KiB" } },
    { dir: dir.path },
  );
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  for (const [id, n] of [
    ["loc", LINES],
    ["arc", ARCHIVED_LINES],
  ] as const) {
    for (let i = 0; i < n; i += 1000)
      expect(
        (await post(`/worker/jobs/${id}/logs`, { step_name: "s", lines: makeLines(1000, "x", "stdout", i) }))
          .status,
      ).toBe(200);
  }
  await post("/worker/jobs/arc/complete", { status: "completed" });
  await waitFor("the archive of arc", async () => {
    const j = (await (await fetch(`${server.url}/api/jobs/arc`)).json()) as {
      archive: { state: string } | null;
    };
    return j.archive?.state === "uploaded";
  });
  rmSync(join(dir.path, "logs", "arc.jsonl")); // reads of arc now come from the archive
  writeFileSync(
    join(dir.path, "logs", "leg.log"),
    Array.from({ length: LINES }, (_, i) => `legacy line ${i} ${"y".repeat(80)}\n`).join(""),
  );

  const fds = () => readdirSync(`/proc/${server.proc.pid}/fd`).length;
  const forms: Array<(job: string) => Promise<unknown>> = [
    (job) => fetch(`${server.url}/api/jobs/${job}/logs?format=ndjson`, { method: "HEAD" }),
    (job) =>
      fetch(`${server.url}/api/jobs/${job}/logs`, {
        method: "HEAD",
        headers: { accept: "application/x-ndjson" },
      }),
    (job) => fetch(`${server.url}/api/jobs/${job}/logs?tail=3`, { method: "HEAD" }),
    async (job) => (await fetch(`${server.url}/api/jobs/${job}/logs?from=100&limit=5`)).json(),
    async (job) => (await fetch(`${server.url}/api/jobs/${job}/logs?from=0`)).json(), // stops at max_read_bytes
    async (job) => (await fetch(`${server.url}/api/jobs/${job}/logs`)).json(), // whole, streamed past it
    async (job) => (await fetch(`${server.url}/api/jobs/${job}/logs?format=ndjson&tail=10`)).text(),
    async (job) => {
      // Half-read: one chunk, then the client stops and hangs up.
      const res = await fetch(`${server.url}/api/jobs/${job}/logs?format=ndjson`);
      const reader = res.body!.getReader();
      await reader.read();
      await reader.cancel();
    },
    (job) => abortAfter(server.url, `/api/jobs/${job}/logs?format=ndjson`, "", 64 * 1024),
    (job) => abortAfter(server.url, `/api/jobs/${job}/logs`, "Accept: application/x-ndjson\r\n", 0),
    (job) => abortAfter(server.url, `/api/jobs/${job}/logs?tail=5000&format=ndjson`, "", 1),
  ];
  const round = async (n: number) => {
    const jobs = ["loc", "leg", "arc"];
    // Four clients at a time, each walking through every form on every tier.
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = w; i < n; i += 4)
          await forms[i % forms.length]!(jobs[Math.floor(i / forms.length) % 3]!);
      }),
    );
  };
  await round(60); // warm-up: the S3 client, lazy modules, the database's statements
  const baseline = fds();
  await round(5000);
  // Aborted streams close as the server notices the hang-up: wait for that, not for time. The slack is
  // for pooled keep-alive sockets (the test's clients, the S3 client), which the warm-up opened too.
  const settled = () => (fds() <= baseline + 4 ? fds() : undefined);
  const after = await waitFor(
    "the server's open files to return to the baseline",
    settled,
    DEADLINE_MS,
    50,
  ).catch(() => fds());
  expect({ baseline, leaked: Math.max(0, after - baseline - 4) }).toEqual({ baseline, leaked: 0 });
  expect(server.stderr()).not.toContain("EMFILE");
}, 300_000);
