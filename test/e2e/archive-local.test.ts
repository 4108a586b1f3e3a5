// `log_storage.archive: {type: local}`: the same keys as files under a directory, and reads that fall back to them.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { makeLines, startTestServer, tempDir } from "../support/server.ts";
import { untilEvent } from "../support/wait.ts";

describe("archive to a local directory", () => {
  test("a finished job is archived atomically under the key path and read back when the local file is gone", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path, prefix: "p/" } },
    });
    await s.fetch("/api/jobs/loc", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspace: "ws", task: "nightly/../x:y", created_at: "2025-02-12T10:56:45Z" }),
    });
    await s.post("/worker/jobs/loc/logs", { step_name: "build", lines: makeLines(20) });
    await s.post("/worker/jobs/loc/complete", { status: "failed", error: "exit 2" });
    const view = await untilEvent(s.events, "archive.uploaded", "the local archive", async () => {
      const j = (await (await s.fetch("/api/jobs/loc")).json()) as {
        archive: { state: string; key: string } | null;
      };
      return j.archive?.state === "uploaded" ? j.archive : undefined;
    });
    // A `..` segment in a task name stays inside the archive directory.
    const file = join(
      archive.path,
      "p",
      "ws",
      "nightly",
      "%2E%2E",
      "x:y",
      "2025",
      "02",
      "12",
      "2025-02-12T10-56-45_loc.jsonl.gz",
    );
    const local = readFileSync(join(s.dir, "loc.jsonl"));
    expect({
      key: view.key,
      same: Buffer.from(gunzipSync(readFileSync(file))).equals(local),
      leftovers: readdirSync(join(file, "..")),
    }).toEqual({
      key: "p/ws/nightly/../x:y/2025/02/12/2025-02-12T10-56-45_loc.jsonl.gz",
      same: true,
      leftovers: ["2025-02-12T10-56-45_loc.jsonl.gz", "2025-02-12T10-56-45_loc.jsonl.gz.idx"],
    });
    rmSync(join(s.dir, "loc.jsonl"));
    const res = (await (await s.fetch("/api/jobs/loc/logs?tail=2")).json()) as Record<string, unknown>;
    expect({ source: res.source, logs: res.logs }).toEqual({
      source: "archive",
      logs: local.toString().split("\n").slice(-3).join("\n"),
    });
  });
});
