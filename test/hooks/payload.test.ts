// Hook payloads and the URL shown in messages.
import { describe, expect, test } from "bun:test";
import type { Job } from "../../src/core/job.ts";
import { hookPayload, publicUrl } from "../../src/hooks/payload.ts";

describe("hook payloads", () => {
  test("user and password never appear in the URL shown in a message", () => {
    expect(publicUrl("https://bot:s3cret@ci.example:8443/hook?x=1")).toBe("https://ci.example:8443/hook?x=1");
  });

  test("the payload describes the job with ISO times and line counts", () => {
    const job: Job = {
      id: "j1",
      workspace: "w",
      task: "t/x",
      status: "failed",
      created_at: Date.parse("2025-02-12T10:00:00.000Z"),
      updated_at: 0,
      finished_at: Date.parse("2025-02-12T10:05:00.000Z"),
      last_activity_at: 0,
      error: "exit 1",
      line_count: 12,
      byte_count: 1200,
      late_lines: 0,
      settled_at: null,
    };
    expect(hookPayload(job)).toEqual({
      event: "job.finished",
      id: "j1",
      workspace: "w",
      task: "t/x",
      status: "failed",
      error: "exit 1",
      created_at: "2025-02-12T10:00:00.000Z",
      finished_at: "2025-02-12T10:05:00.000Z",
      lines: 12,
      bytes: 1200,
      late_lines: 0,
    });
  });
});
