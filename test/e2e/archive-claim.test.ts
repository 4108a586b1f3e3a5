// An archive object stroem-logs did not write is never replaced: not at the first upload, not by a retry of one
// that failed, not by a re-archive of late lines after Strøm's archiver wrote the key (it writes at its job's
// end, unconditionally, whether or not stroem-logs was there first).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { asideKey } from "../../src/archive/foreign.ts";
import { startS3 } from "../support/s3.ts";
import { faultProxy } from "../support/s3-faults.ts";
import { parseJsonl, startTestServer, tempDir } from "../support/server.ts";
import { startStrom } from "../support/strom.ts";
import {
  stromArchiveBytes,
  stromArchiveKey,
  stromArchiveRead,
  type WorkerEntry,
  workerPush,
  workerTimestamp,
} from "../support/strom-clients.ts";
import { untilEvent, waitFor } from "../support/wait.ts";

const T0 = Date.parse("2025-02-12T10:56:45.000Z");
const entries = (n: number, prefix: string): WorkerEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    timestamp: workerTimestamp(new Date(T0 + i * 1000), 1_000_000),
    stream: "stdout",
    line: `${prefix}-${i}`,
  }));
const job = (id = crypto.randomUUID()) => ({
  job_id: id,
  workspace: "infra",
  task_name: "deploy",
  created_at: "2025-02-12T10:56:45+00:00",
});
type ArchiveView = { state: string; key: string; attempts: number; log_bytes: number };
type JobView = { bytes: number; archive: ArchiveView | null };

async function register(
  s: { fetch(p: string, init?: RequestInit): Promise<Response> },
  j: ReturnType<typeof job>,
) {
  const r = await s.fetch(`/api/jobs/${j.job_id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ workspace: j.workspace, task: j.task_name, created_at: j.created_at }),
  });
  expect(r.status).toBeLessThan(300);
}

/** Resolves with the archive once every committed byte is uploaded and verified, at `key` when given. */
function archivedAt(s: { fetch(p: string): Promise<Response> }, id: string, key?: string) {
  return waitFor(`job ${id} archived${key === undefined ? "" : ` at ${key}`}`, async () => {
    const j = (await (await s.fetch(`/api/jobs/${id}`)).json()) as JobView;
    const a = j.archive;
    return a?.state === "uploaded" && a.log_bytes === j.bytes && (key === undefined || a.key === key)
      ? a
      : undefined;
  });
}

const lineTexts = (jsonl: string) => parseJsonl(jsonl).map((l) => `${l.step}:${l.line}`);

describe("an archive object stroem-logs did not write is never replaced", () => {
  test("Strøm writes the key after stroem-logs archived there: the re-archive of late lines goes beside it, with Strøm's lines", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path }, rearchive_delay: "50ms" },
    });
    const j = job();
    await register(s, j);
    await workerPush(s.url, "any", j.job_id, "build", entries(3, "ours"));
    await s.post(`/worker/jobs/${j.job_id}/complete`, { status: "completed" });
    const key = stromArchiveKey("", j);
    const first = await archivedAt(s, j.job_id, key);
    const path = join(archive.path, key);
    expect(existsSync(`${path}.idx`)).toBe(true);

    // Strøm's archiver, at its own job's end, writes the same key: its copy holds a server event of its own.
    const ours = readFileSync(join(s.dir, `${j.job_id}.jsonl`), "utf8");
    const stromEvent =
      '{"line":"[hooks] Hook \'notify\' failed: exit 1","step":"_server","stream":"stderr","ts":"2025-02-12T10:57:00+00:00"}';
    const theirs = stromArchiveBytes(`${ours}${stromEvent}\n`);
    writeFileSync(path, theirs);

    // A late line: archived again, and the key now holds Strøm's object.
    await workerPush(s.url, "any", j.job_id, "build", entries(1, "late"));
    const aside = asideKey(key);
    const second = await archivedAt(s, j.job_id, aside);
    const asideText = stromArchiveRead(readFileSync(join(archive.path, aside)));
    const local = readFileSync(join(s.dir, `${j.job_id}.jsonl`), "utf8");
    const events = parseJsonl(asideText)
      .filter((l) => l.step === "_server" && l.line!.startsWith("[archive]"))
      .map((l) => l.line);
    expect({
      kept: Buffer.from(readFileSync(path)).equals(Buffer.from(theirs)),
      // Our index of the object that was there is gone with it; the archive beside it has its own.
      oldIndex: existsSync(`${path}.idx`),
      newIndex: existsSync(join(archive.path, `${aside}.idx`)),
      attempts: second.attempts - first.attempts,
      // Every line of both copies, each once: ours, the late one, Strøm's own event, then the event saying so.
      lines: lineTexts(asideText),
      same: asideText === local,
      events,
    }).toEqual({
      kept: true,
      oldIndex: false,
      newIndex: true,
      attempts: 1,
      lines: [
        "build:ours-0",
        "build:ours-1",
        "build:ours-2",
        "build:late-0",
        "_server:[hooks] Hook 'notify' failed: exit 1",
        `_server:${events[0]}`,
      ],
      same: true,
      events: [
        `[archive] ${path} already holds an archive stroem-logs did not write since this log was archived there (4 lines); it is kept as it is. 1 of its lines were not in this log and are added to it; this log is archived at ${join(archive.path, aside)}`,
      ],
    });

    // Later late lines go to the archive beside it without looking at Strøm's key again.
    await workerPush(s.url, "any", j.job_id, "build", entries(1, "later"));
    await archivedAt(s, j.job_id, aside);
    expect({
      kept: Buffer.from(readFileSync(path)).equals(Buffer.from(theirs)),
      last: lineTexts(stromArchiveRead(readFileSync(join(archive.path, aside)))).at(-1),
    }).toEqual({ kept: true, last: "build:later-0" });
  });

  test("a first upload that failed after claiming the key is retried only after looking again: Strøm's object put there in between is kept", async () => {
    await using s3 = await startS3();
    const j = job();
    const key = stromArchiveKey("", j);
    // Every PUT of the key fails until Strøm's object is there (the SDK's own retries included).
    let refusing = true;
    using proxy = faultProxy(s3, (_nth, path) =>
      refusing && path === `/${s3.bucket}/${key}` ? { status: 500 } : null,
    );
    await using s = await startTestServer({
      log_storage: {
        archive: { ...s3.archive(), endpoint: proxy.endpoint },
        archive_retry: { initial: "50ms", max: "200ms" },
      },
    });
    await register(s, j);
    await workerPush(s.url, "any", j.job_id, "build", entries(2, "ours"));
    let failures = 0;
    const off = s.events.on("archive.failed", (e) => {
      if (e.job === j.job_id) failures++;
    });
    await s.post(`/worker/jobs/${j.job_id}/complete`, { status: "completed" });
    await untilEvent(s.events, "archive.failed", "the first upload's failure", () => failures > 0);
    off();
    // Strøm archives its own copy at the key while stroem-logs waits to retry.
    const theirs = stromArchiveBytes(
      '{"line":"[approval] Step \'gate\' approved by a@x","step":"_server","stream":"stderr","ts":"2025-02-12T10:56:45.5+00:00"}\n',
    );
    await s3.putRaw(key, theirs);
    refusing = false;
    const aside = asideKey(key);
    await archivedAt(s, j.job_id, aside);
    const stored = await s3.getRaw(key);
    expect({
      kept: Buffer.from(stored!.bytes).equals(Buffer.from(theirs)),
      // Only the failed PUTs reached the key; nothing of ours was stored there.
      storedAtKey: proxy.stored.get(`/${s3.bucket}/${key}`) ?? 0,
      // Ours, then Strøm's line ours lacked (the archiver's own events aside).
      lines: lineTexts(stromArchiveRead((await s3.getRaw(aside))!.bytes)).filter(
        (l) => !l.startsWith("_server:[archive]"),
      ),
    }).toEqual({
      kept: true,
      storedAtKey: 0,
      lines: ["build:ours-0", "build:ours-1", "_server:[approval] Step 'gate' approved by a@x"],
    });
  });

  test("stroem-logs' own archive at the key (its gzip header says so) is replaced in place by a re-archive of late lines", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path }, rearchive_delay: "50ms" },
    });
    const j = job();
    await register(s, j);
    await workerPush(s.url, "any", j.job_id, "build", entries(2, "ours"));
    await s.post(`/worker/jobs/${j.job_id}/complete`, { status: "completed" });
    const key = stromArchiveKey("", j);
    await archivedAt(s, j.job_id, key);
    // What the key holds now is ours (its gzip header says so): a late line's re-archive replaces it in place.
    await workerPush(s.url, "any", j.job_id, "build", entries(1, "late"));
    await waitFor("the late line in the archive", () => {
      const text = stromArchiveRead(readFileSync(join(archive.path, key)));
      return text.includes('"late-0"') ? text : undefined;
    });
    const a = await archivedAt(s, j.job_id, key);
    expect({ key: a.key, aside: existsSync(join(archive.path, asideKey(key))) }).toEqual({
      key,
      aside: false,
    });
  });
});

describe("a foreign copy's lines holding a secret are folded in once", () => {
  test("Strøm mode: a _server event with a secret, folded in at the job's end, is not folded again from Strøm's archive at the key", async () => {
    await using strom = await startStrom();
    const svc = strom.addUser({ email: "svc@x", is_admin: true });
    const sj = strom.addJob({ workspace: "infra", task_name: "deploy", status: "running" });
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
      strom: { api_url: strom.url, token: strom.apiKey(svc), poll_interval: "50ms" },
    });
    const secret = "hunter2-very-secret";
    await workerPush(s.url, "any", sj.job_id, "build", entries(1, "ours"));
    expect((await s.post(`/worker/jobs/${sj.job_id}/secrets`, { secrets: [secret] })).status).toBe(200);
    const event = strom.serverEvent(sj.job_id, `[hooks] Hook 'notify' failed: token ${secret} refused`);
    // Strøm's archiver wrote its copy (with the same event) at the key before stroem-logs archives.
    const key = stromArchiveKey("", sj);
    mkdirSync(dirname(join(archive.path, key)), { recursive: true });
    writeFileSync(join(archive.path, key), stromArchiveBytes(`${event}\n`));
    strom.setStatus(sj.job_id, "completed");
    await archivedAt(s, sj.job_id, asideKey(key));
    const local = readFileSync(join(s.dir, `${sj.job_id}.jsonl`), "utf8");
    expect({
      copies: local.split("\n").filter((l) => l.includes("Hook 'notify' failed: token *** refused")).length,
      leaked: local.includes(secret),
    }).toEqual({ copies: 1, leaked: false });
  });
});
