// Archive keys: Strøm's layout, from the job's creation time in UTC.
import { describe, expect, test } from "bun:test";
import { archiveKey } from "../../src/core/key.ts";

const job = {
  id: "3f6c1c1e-8d2a-4b8e-9a57-0c1d2e3f4a5b",
  workspace: "default",
  task: "deploy",
  created_at: Date.parse("2025-02-12T10:56:45.123Z"),
};

describe("archive keys", () => {
  test("without a prefix the key starts with the workspace", () => {
    expect(archiveKey("", job)).toBe(
      "default/deploy/2025/02/12/2025-02-12T10-56-45_3f6c1c1e-8d2a-4b8e-9a57-0c1d2e3f4a5b.jsonl.gz",
    );
  });

  test("a prefix is put in front as it is", () => {
    expect(archiveKey("logs/", job)).toBe(
      "logs/default/deploy/2025/02/12/2025-02-12T10-56-45_3f6c1c1e-8d2a-4b8e-9a57-0c1d2e3f4a5b.jsonl.gz",
    );
  });

  test("a task name with / and : keeps them in the key", () => {
    expect(archiveKey("logs/", { ...job, task: "ci/build:linux" })).toBe(
      "logs/default/ci/build:linux/2025/02/12/2025-02-12T10-56-45_3f6c1c1e-8d2a-4b8e-9a57-0c1d2e3f4a5b.jsonl.gz",
    );
  });

  test("the date and time come from created_at in UTC, whatever the local time zone", () => {
    const late = { ...job, created_at: Date.parse("2025-12-31T23:59:59.999-01:00") };
    expect(archiveKey("", late)).toBe(
      "default/deploy/2026/01/01/2026-01-01T00-59-59_3f6c1c1e-8d2a-4b8e-9a57-0c1d2e3f4a5b.jsonl.gz",
    );
  });

  test("different creation dates give different keys", () => {
    const keys = ["2025-02-12T10:56:45Z", "2025-02-13T10:56:45Z", "2025-02-12T10:56:46Z"].map((t) =>
      archiveKey("", { ...job, created_at: Date.parse(t) }),
    );
    expect(new Set(keys).size).toBe(3);
  });
});
