// `stroem-logs completion bash|zsh|fish`: each script loads in its real shell and completes commands, flags and values.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands.ts";
import { MAIN } from "../support/process.ts";
import { tempDir } from "../support/server.ts";

async function run(cmd: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

async function script(shell: string, dir: string): Promise<string> {
  const r = await run([process.execPath, MAIN, "completion", shell]);
  expect([r.code, r.stderr]).toEqual([0, ""]);
  const file = join(dir, `completion.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

const hasShell = (name: string) => Bun.which(name) !== null;

describe("completion", () => {
  test("bash: the script loads and completes commands, flags, flag values (also after =), shells and run's command", async () => {
    using dir = tempDir();
    const file = await script("bash", dir.path);
    expect((await run(["bash", "-n", file])).code).toBe(0);
    // What bash hands the function for each command line; the last word is the one being completed.
    const complete = async (...words: string[]) => {
      const r = await run([
        "bash",
        "-c",
        `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _stroem_logs; printf '%s\\n' "\${COMPREPLY[@]}"`,
        "bash",
        file,
        ...words,
      ]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      return r.stdout.split("\n").filter((l) => l !== "");
    };
    expect(await complete("stroem-logs", "c")).toEqual(["check-config", "cat", "complete", "completion"]);
    expect(await complete("stroem-logs", "cat", "j", "--st")).toEqual(["--step", "--stream"]);
    expect(await complete("stroem-logs", "cat", "j", "--stream", "")).toEqual(["stdout", "stderr"]);
    expect(await complete("stroem-logs", "tail", "j", "--color", "=", "")).toEqual([
      "auto",
      "always",
      "never",
    ]);
    expect(await complete("stroem-logs", "tail", "j", "--color", "=", "n")).toEqual(["never"]);
    expect(await complete("stroem-logs", "complete", "j", "--status", "f")).toEqual(["failed"]);
    expect(await complete("stroem-logs", "completion", "")).toEqual(["bash", "zsh", "fish"]);
    expect(await complete("stroem-logs", "run", "--job", "j", "--mask-f")).toEqual(["--mask-file"]);
    expect(await complete("stroem-logs", "run", "--job", "j", "--", "printen")).toContain("printenv");
    const registered = await run(["bash", "-c", `source "$1"; complete -p stroem-logs`, "bash", file]);
    expect(registered.stdout).toBe("complete -F _stroem_logs stroem-logs\n");
  });

  test.skipIf(!hasShell("fish"))(
    "fish: the script loads and completes commands, flags and their values",
    async () => {
      using dir = tempDir();
      const file = await script("fish", dir.path);
      const complete = async (line: string) => {
        const r = await run(["fish", "--no-config", "-c", `source ${file}; complete -C '${line}'`]);
        expect([r.code, r.stderr]).toEqual([0, ""]);
        return r.stdout
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => l.split("\t")[0]);
      };
      expect(await complete("stroem-logs ")).toEqual(expect.arrayContaining(COMMANDS.map((c) => c.name)));
      expect(await complete("stroem-logs cat j --st")).toEqual(["--step", "--stream"]);
      expect(await complete("stroem-logs cat j --stream ")).toEqual(["stderr", "stdout"]);
      expect(await complete("stroem-logs completion ")).toEqual(["bash", "fish", "zsh"]);
    },
  );

  test.skipIf(!hasShell("zsh"))(
    "zsh: the script loads under compinit and registers its function for stroem-logs",
    async () => {
      using dir = tempDir();
      const file = await script("zsh", dir.path);
      const r = await run(
        [
          "zsh",
          "-f",
          "-c",
          `autoload -U compinit && compinit -u -D && source ${file} && print -r -- $_comps[stroem-logs]`,
        ],
        { HOME: dir.path },
      );
      expect(r).toEqual({ stdout: "_stroem_logs\n", stderr: "", code: 0 });
      // Every flag of every command is offered (the script is generated from the same table as --help).
      const text = await Bun.file(file).text();
      for (const c of COMMANDS) for (const flag of Object.keys(c.flags)) expect(text).toContain(`--${flag}`);
    },
  );
});
