import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { acquireLock, identity, nativeFlock, SpoolBusyError } from "../../src/shipper/lock.ts";
import { tempDir } from "../support/server.ts";

const LOCK = join(import.meta.dir, "..", "..", "src", "shipper", "lock.ts");

/** A live process that is not a shipper, killed on dispose. */
function sleeper() {
  const proc = Bun.spawn(["sleep", "60"]);
  return {
    pid: proc.pid,
    async [Symbol.asyncDispose]() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

describe("spool lock", () => {
  test("flock is available from the C library on this platform", () => {
    expect(nativeFlock()).not.toBeNull();
  });

  test("a lock held by another live process is refused with its pid; its kill -9 frees it at once", async () => {
    using tmp = tempDir();
    const path = join(tmp.path, "lock");
    const holder = Bun.spawn(
      [
        process.execPath,
        "-e",
        `const { acquireLock } = await import(${JSON.stringify(LOCK)}); acquireLock(${JSON.stringify(path)}); console.log("locked"); setInterval(() => {}, 1000);`,
      ],
      { stdout: "pipe" },
    );
    try {
      const reader = holder.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe("locked\n");
      expect(() => acquireLock(path)).toThrow(
        new SpoolBusyError(`spool ${tmp.path} is in use by another stroem-logs (pid ${holder.pid})`),
      );
      holder.kill("SIGKILL");
      await holder.exited;
      acquireLock(path).release();
    } finally {
      holder.kill("SIGKILL");
    }
  });

  test("a second open in the same process is refused; after release it is free", () => {
    using tmp = tempDir();
    const path = join(tmp.path, "lock");
    const a = acquireLock(path);
    expect(() => acquireLock(path)).toThrow(`spool ${tmp.path} is already open in this process`);
    a.release();
    acquireLock(path).release();
  });

  test("without flock: a lock naming a live, unrelated pid (a reused pid) is taken over", async () => {
    using tmp = tempDir();
    const path = join(tmp.path, "lock");
    await using other = sleeper();
    await Bun.write(path, `${other.pid}\n`); // as an older shipper wrote it
    acquireLock(path, null).release();
    await Bun.write(path, `${other.pid} 1 ${identity(process.pid).split(" ")[2]}\n`); // another start time
    acquireLock(path, null).release();
  });

  test("without flock: a lock naming a live holder by pid, start time and boot id is refused", async () => {
    using tmp = tempDir();
    const path = join(tmp.path, "lock");
    await using holder = sleeper();
    await Bun.write(path, `${identity(holder.pid)}\n`);
    expect(() => acquireLock(path, null)).toThrow(
      `spool ${tmp.path} is in use by another stroem-logs (pid ${holder.pid})`,
    );
  });
});
