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

  test("a port in use is one line on stderr and exit 1, before anything else is said", async () => {
    using dir = tempDir();
    using holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken") });
    const r = await run(["serve", "--listen", `127.0.0.1:${holder.port}`], {
      STROEM__LOG_STORAGE__LOCAL_DIR: dir.path,
    });
    expect(r).toEqual({
      stdout: "",
      stderr: `stroem-logs serve: cannot listen on 127.0.0.1:${holder.port}: address already in use (EADDRINUSE): another process listens there\n`,
      code: 1,
    });
  });

  test("a bad --listen names the flag, exit 2", async () => {
    expect(await run(["serve", "--listen", "nowhere"])).toEqual({
      stdout: "",
      stderr:
        'stroem-logs serve: invalid config:\n  --listen: server.listen: expected HOST:PORT (got "nowhere")\n',
      code: 2,
    });
  });
});

async function run(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn([process.execPath, MAIN, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { stdout, stderr, code };
}
