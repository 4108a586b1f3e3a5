// The shipper's own disk full or its spool state unwritable (a real tmpfs): nothing is sent that the spool could
// not record, and a kill -9 then `push` stores every kept line exactly once.
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { FileSink } from "bun";
import { spoolDirOf } from "../../src/shipper/spool.ts";
import { startTestServer } from "../support/server.ts";
import { canMount, mountTmpfs } from "../support/tmpfs.ts";
import { waitFor } from "../support/wait.ts";
import { freePort, jobLines, lineCount, type StepLine, shipper } from "./shipper-helpers.ts";

const droppedIn = (lines: StepLine[]): number =>
  lines
    .filter((l) => l.step === "_server")
    .reduce((n, l) => n + Number(/: (\d+) lines? of step s were dropped/.exec(l.line)?.[1] ?? 0), 0);

/** `prefix 0` … `prefix n-1`, each once and in order (what a step's log must hold). */
const inOrder = (got: string[], prefix: string): boolean => got.every((l, i) => l === `${prefix} ${i}`);

/** Each line at most once and in order, some missing (the lines a full disk refused). */
const increasing = (got: string[]): boolean =>
  got.every((l, i) => i === 0 || Number(l.split(" ")[1]) > Number(got[i - 1]!.split(" ")[1]));

/** Writes zeros to `path` until the disk refuses. */
function fillDisk(path: string): void {
  const fd = openSync(path, "w");
  try {
    for (;;) writeSync(fd, Buffer.alloc(4096));
  } catch {
    // ENOSPC: the disk is full
  } finally {
    closeSync(fd);
  }
}

describe("shipper on a full or unwritable disk", () => {
  test.skipIf(!canMount)(
    "the disk full while the server is away: each line is stored once or reported dropped, through a kill -9 and a push",
    async () => {
      using fs = mountTmpfs("1m")!;
      const port = freePort();
      const args = ["--job", "full", "--step", "s", "--spool", fs.path, "--retry-max", "100ms"];
      // Echoing: a line on stdout has been spooled (or refused by the disk).
      await using first = shipper(["push", "--server", `http://127.0.0.1:${port}`, ...args], {
        stdin: "pipe",
      });
      const stdin = first.proc.stdin as FileSink;
      const write = async (from: number, to: number) => {
        for (let i = from; i < to; i += 100) {
          stdin.write(Array.from({ length: 100 }, (_, k) => `line ${i + k}\n`).join(""));
          await stdin.flush();
        }
        await first.waitStdout(new RegExp(`line ${to - 1}\n`));
      };
      await write(0, 100);
      await first.waitStderr(/cannot deliver/); // a first batch is recorded and waits for the server
      await write(100, 5000);
      // Something else fills the disk; the next lines cannot be spooled.
      fillDisk(join(fs.path, "filler"));
      await write(5000, 10_000);
      await first.waitStderr(/spool write to .* failed, \d+ lines dropped: ENOSPC/);

      await using server = await startTestServer({ server: { listen: `127.0.0.1:${port}` } });
      await waitFor(
        "every line stored or reported dropped",
        async () => {
          if ((await lineCount(server.url, "full")) === 0) return false;
          const lines = await jobLines(server.url, "full");
          return lines.filter((l) => l.step === "s").length + droppedIn(lines) >= 10_000;
        },
        30_000,
        50,
      );
      first.proc.kill("SIGKILL");
      await first.exited;
      rmSync(join(fs.path, "filler"));

      await using resume = shipper(["push", "--server", server.url, ...args, "--quiet"]);
      const r = await resume.result();
      const lines = await jobLines(server.url, "full");
      const stored = lines.filter((l) => l.step === "s").map((l) => l.line);
      const dropped = droppedIn(lines);
      expect({
        code: r.code,
        increasing: increasing(stored),
        accounted: stored.length + dropped,
        kept: stored.slice(0, 5000).every((l, i) => l === `line ${i}`),
      }).toEqual({ code: 0, increasing: true, accounted: 10_000, kept: true });
    },
    60_000,
  );

  test.skipIf(!canMount)(
    "while the spool state cannot be written nothing is sent; the lines stay in the spool and a push after kill -9 stores each once",
    async () => {
      using fs = mountTmpfs("1m")!;
      const port = freePort();
      const args = ["--job", "ro", "--step", "s", "--spool", fs.path, "--retry-max", "100ms"];
      // Echoing: a line on stdout has been spooled.
      await using first = shipper(["push", "--server", `http://127.0.0.1:${port}`, ...args], {
        stdin: "pipe",
      });
      const stdin = first.proc.stdin as FileSink;
      for (let i = 0; i < 100; i++) stdin.write(`a ${i}\n`);
      await stdin.flush();
      await first.waitStdout(/a 99\n/);
      await first.waitStderr(/cannot deliver/); // a first batch is recorded and waits for the server
      for (let i = 0; i < 100; i++) stdin.write(`b ${i}\n`);
      await stdin.flush();
      await first.waitStdout(/b 99\n/);

      // The state file turns read-only (a read-only bind mount over it: EROFS), the segments stay writable.
      const state = join(spoolDirOf(fs.path, "ro", "s"), "state");
      expect(Bun.spawnSync(["mount", "--bind", state, state]).exitCode).toBe(0);
      let bound = true;
      try {
        expect(Bun.spawnSync(["mount", "-o", "remount,bind,ro", state]).exitCode).toBe(0);
        await using server = await startTestServer({ server: { listen: `127.0.0.1:${port}` } });
        await first.waitStderr(/cannot record the next batch in the spool state .*EROFS.*nothing is sent/);
        // Only the batch recorded before the state turned read-only was sent.
        const sent = (await jobLines(server.url, "ro")).map((l) => l.line);
        first.proc.kill("SIGKILL");
        await first.exited;
        expect(Bun.spawnSync(["umount", state]).exitCode).toBe(0);
        bound = false;

        await using resume = shipper(["push", "--server", server.url, ...args, "--quiet"]);
        const r = await resume.result();
        const stored = (await jobLines(server.url, "ro")).map((l) => l.line);
        expect({
          code: r.code,
          sentBefore: sent.length > 0 && inOrder(sent, "a"),
          a: inOrder(stored.slice(0, 100), "a"),
          b: inOrder(stored.slice(100), "b"),
          lines: stored.length,
        }).toEqual({ code: 0, sentBefore: true, a: true, b: true, lines: 200 });
      } finally {
        if (bound) Bun.spawnSync(["umount", state]);
      }
    },
    60_000,
  );
});
