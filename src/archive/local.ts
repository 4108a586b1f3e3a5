// The `type: local` target: the same keys as files under a directory, written atomically.
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { type ArchiveTarget, reason, TargetError } from "./target.ts";

export function createLocalTarget(root: string): ArchiveTarget {
  const base = resolve(root);

  /** Keys come from workspace and task names: a `..` or empty segment must never leave the directory. */
  function pathOf(key: string): string {
    const segments = key
      .split("/")
      .map((s) => (s === "" ? "%" : s === "." || s === ".." ? s.replaceAll(".", "%2E") : s));
    const path = join(base, ...segments);
    if (!path.startsWith(base + sep) || key.includes("\0")) {
      throw new TargetError(`archive key ${JSON.stringify(key)} does not name a file under ${base}`, "other");
    }
    return path;
  }

  async function fsyncDir(dir: string): Promise<void> {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Bytes [start, last] of the file (to its end without `last`); opened before returning, so a missing file is an error here rather than mid-read. */
  async function openStream(key: string, start: number, last: number | undefined) {
    const path = pathOf(key);
    try {
      const fh = await open(path, "r");
      return fh.createReadStream({
        highWaterMark: 256 * 1024,
        start,
        ...(last === undefined ? {} : { end: last }),
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new TargetError(`archive file ${path} is missing`, "missing");
      }
      throw new TargetError(`opening ${path} failed: ${reason(e)}`, "other", e);
    }
  }

  const target: ArchiveTarget = {
    where: `local directory ${base}`,
    locate: (key) => pathOf(key),

    // Temp file, fsync, rename, fsync the directory: a reader sees the old object or the new, never half.
    async put(key, body, signal) {
      const path = pathOf(key);
      const tmp = `${path}.tmp-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await mkdir(dirname(path), { recursive: true });
        const fh = await open(tmp, "w");
        try {
          for await (const chunk of body) {
            signal.throwIfAborted();
            let written = 0;
            while (written < chunk.length) {
              written += (await fh.write(chunk, written, chunk.length - written)).bytesWritten;
            }
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
        await fsyncDir(dirname(path));
      } catch (e) {
        await rm(tmp, { force: true });
        if (e instanceof TargetError) throw e;
        throw new TargetError(`writing ${path} failed: ${reason(e)}`, "other", e);
      }
    },

    get: (key) => openStream(key, 0, undefined),

    async getRange(key, start, end) {
      if (end <= start) return (async function* () {})();
      return openStream(key, start, end - 1);
    },

    async delete(key) {
      const path = pathOf(key);
      try {
        await rm(path, { force: true });
      } catch (e) {
        throw new TargetError(`removing ${path} failed: ${reason(e)}`, "other", e);
      }
    },

    async check({ write }) {
      try {
        await mkdir(base, { recursive: true });
        if (!write) return null;
        const probe = join(base, `.stroem-logs-check-${process.pid}`);
        const fh = await open(probe, "w");
        await fh.close();
        await rm(probe);
        return null;
      } catch (e) {
        return `archive directory ${base} is not writable: ${reason(e)}`;
      }
    },
  };
  return target;
}
