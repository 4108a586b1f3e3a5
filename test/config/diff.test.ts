import { describe, expect, test } from "bun:test";
import { diffConfig } from "../../src/config/diff.ts";
import { validateConfig } from "../../src/config/load.ts";

describe("config diff", () => {
  test("reloadable settings are listed with old and new values, the rest as needing a restart, secrets never", () => {
    const before = validateConfig({ auth: { worker_token: "secret-1", read_tokens_file: "/a" } }, "t");
    const after = validateConfig(
      {
        auth: { worker_token: "secret-2", read_tokens_file: "/b" },
        log: { level: "debug" },
        limits: { max_streams: 5 },
        server: { listen: "127.0.0.1:9" },
        hooks: [{ url: "https://ci.example/h" }],
      },
      "t",
    );
    const diff = diffConfig(before, after);
    expect(diff).toEqual({
      applied: ['auth.read_tokens_file: "/a" → "/b"', 'log.level: "info" → "debug"'],
      needsRestart: ["limits.max_streams", "server.listen"],
    });
    expect(JSON.stringify(diff)).not.toContain("secret");
  });
});
