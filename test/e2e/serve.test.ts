// `stroem-logs serve` as a supervisor runs it: signals, reloads, start-up failures (real child processes).
import { describe, expect, test } from "bun:test";
import { MAIN } from "../support/process.ts";
import { tempDir } from "../support/server.ts";

describe("serve", () => {
  test("a SIGTERM sent the moment `listening on` is printed stops the server gracefully", async () => {
    using dir = tempDir();
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const p = Bun.spawn([process.execPath, MAIN, "serve", "--listen", "127.0.0.1:0"], {
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, STROEM__LOG_STORAGE__LOCAL_DIR: dir.path },
      });
      const reader = p.stdout.getReader();
      await reader.read();
      p.kill("SIGTERM");
      codes.push(await p.exited);
    }
    expect(codes).toEqual([0, 0, 0, 0, 0]);
  });
});
