// scripts/stroem-logs.service passes `systemd-analyze verify` and carries what an operator relies on.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/server.ts";

const UNIT = readFileSync(join(import.meta.dir, "..", "..", "scripts", "stroem-logs.service"), "utf8");

/** `systemd-analyze verify` on `text` saved as stroem-logs.service; fails loudly when the tool is missing. */
async function verify(text: string) {
  const bin = Bun.which("systemd-analyze");
  if (bin === null)
    throw new Error("systemd-analyze not found: scripts/test installs it (apt-get install systemd)");
  using dir = tempDir();
  const file = join(dir.path, "stroem-logs.service");
  // verify checks that ExecStart's binary exists and is executable; the installed path is not here.
  writeFileSync(file, text.replaceAll("/usr/local/bin/stroem-logs", process.execPath));
  const p = Bun.spawn([bin, "verify", file], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { stdout, stderr, code };
}

describe("systemd unit", () => {
  test("systemd-analyze verify accepts it without a warning", async () => {
    expect(await verify(UNIT)).toEqual({ stdout: "", stderr: "", code: 0 });
  });

  test("the check is real: a bad value is reported with its line", async () => {
    const line = UNIT.split("\n").indexOf("RestartPreventExitStatus=2") + 1;
    const r = await verify(UNIT.replace("RestartPreventExitStatus=2", "RestartPreventExitStatus=two"));
    expect(r.stderr).toEndWith(`stroem-logs.service:${line}: Failed to parse value, ignoring: two\n`);
  });

  test("a bad config is not restarted in a loop; state, credentials and reload are set up", () => {
    const directives = UNIT.split("\n").filter((l) => /^[A-Z]\w+=/.test(l));
    expect(directives).toEqual(
      expect.arrayContaining([
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "StateDirectory=stroem-logs",
        "WorkingDirectory=/var/lib/stroem-logs",
        "LoadCredential=worker-token:/etc/stroem-logs/worker-token",
        "LoadCredential=read-tokens:/etc/stroem-logs/read-tokens",
        "ExecStart=/usr/local/bin/stroem-logs serve --config /etc/stroem-logs/config.yaml",
        "ExecReload=/bin/kill -HUP $MAINPID",
      ]),
    );
  });
});
