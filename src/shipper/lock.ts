// The spool's lock: an exclusive flock(2) on its `lock` file, which the kernel releases when the holder dies.
import { dlopen, type Pointer, read } from "bun:ffi";
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { constants as os } from "node:os";
import { dirname } from "node:path";

export class SpoolBusyError extends Error {
  override name = "SpoolBusyError";
}

/** flock(2) with LOCK_EX | LOCK_NB: "busy" when another open file holds it; throws on any other error. */
export type TryFlock = (fd: number) => "locked" | "busy";

export interface HeldLock {
  release(): void;
}

/** Locks open in this process: a second open of the same spool here gets a clearer message than a pid. */
const held = new Set<string>();

/**
 * Takes the lock at `path` or throws SpoolBusyError naming the holder's pid. With `flock` (the default, from
 * libc) a crashed holder's lock is gone with it, whatever became of its pid. Without it (no libc found), the
 * file names its holder by pid, start time and boot id, so a pid reused by another process is not mistaken
 * for the holder.
 */
export function acquireLock(path: string, flock: TryFlock | null = nativeFlock()): HeldLock {
  if (held.has(path)) throw new SpoolBusyError(`spool ${dirname(path)} is already open in this process`);
  const release = flock ? lockWithFlock(path, flock) : lockWithIdentity(path);
  held.add(path);
  return {
    release() {
      held.delete(path);
      release();
    },
  };
}

function lockWithFlock(path: string, flock: TryFlock): () => void {
  // A holder that removes the spool as it closes unlinks the file we may have opened: lock what is at `path`.
  for (let attempt = 0; attempt < 100; attempt++) {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    let kept = false;
    try {
      if (flock(fd) === "busy") throw busy(path, readHolder(path));
      if (fstatSync(fd).ino !== statSync(path, { throwIfNoEntry: false })?.ino) continue;
      try {
        // Only for the message a second shipper prints: the lock holds without it (a full disk).
        ftruncateSync(fd, 0);
        writeSync(fd, `${identity(process.pid)}\n`, 0);
      } catch {}
      kept = true;
      return () => closeSync(fd);
    } finally {
      if (!kept) closeSync(fd);
    }
  }
  throw new Error(`cannot lock ${path}: it keeps being replaced`);
}

function lockWithIdentity(path: string): () => void {
  const mine = `${identity(process.pid)}\n`;
  try {
    const fd = openSync(path, "wx", 0o600);
    writeSync(fd, mine);
    closeSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    const holder = readFileSync(path, "utf8").trim();
    const pid = Number(holder.split(" ")[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && identity(pid) === holder) {
      throw busy(path, String(pid));
    }
    const tmp = `${path}.${process.pid}`;
    const fd = openSync(tmp, "w", 0o600);
    writeSync(fd, mine);
    closeSync(fd);
    renameSync(tmp, path);
  }
  return () => {
    try {
      unlinkSync(path);
    } catch {}
  };
}

const busy = (path: string, pid: string) =>
  new SpoolBusyError(`spool ${dirname(path)} is in use by another stroem-logs (pid ${pid})`);

function readHolder(path: string): string {
  try {
    return readFileSync(path, "utf8").trim().split(" ")[0] || "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * `pid start-time boot-id` of a live process (Linux /proc), or "" when it is not alive; just the pid where
 * there is no /proc. A lock written by an older shipper holds the pid alone and never matches a live process.
 */
export function identity(pid: number): string {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    if (!alive(pid)) return "";
    return readable("/proc/self/stat") ? "" : String(pid);
  }
  // Field 22 (start time in clock ticks since boot) counted after the command name, which may hold spaces.
  const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return `${pid} ${start} ${boot}`;
}

function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

let native: TryFlock | null | undefined;

/** flock from the C library through bun:ffi (glibc, musl, macOS); null when none can be loaded. */
export function nativeFlock(): TryFlock | null {
  if (native !== undefined) return native;
  native = null;
  const darwin = process.platform === "darwin";
  const errnoName = darwin ? "__error" : "__errno_location";
  const names = darwin
    ? ["libSystem.B.dylib"]
    : ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"];
  for (const name of names) {
    try {
      const lib = dlopen(name, {
        flock: { args: ["i32", "i32"], returns: "i32" },
        [errnoName]: { args: [], returns: "ptr" },
      });
      const errno = lib.symbols[errnoName] as () => Pointer | null;
      const LOCK_EX = 2;
      const LOCK_NB = 4;
      native = (fd) => {
        for (;;) {
          if (lib.symbols.flock(fd, LOCK_EX | LOCK_NB) === 0) return "locked";
          const ptr = errno();
          const code = ptr === null ? -1 : read.i32(ptr, 0);
          if (code === os.errno.EINTR) continue;
          if (code === os.errno.EWOULDBLOCK || code === os.errno.EAGAIN) return "busy";
          throw new Error(`flock failed (errno ${code})`);
        }
      };
      return native;
    } catch {}
  }
  return null;
}
