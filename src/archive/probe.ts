// Whether the archive target is reachable: what the last upload or probe said, and a probe until it answers again.
import type { Events } from "../events.ts";
import type { Logger } from "../log.ts";
import type { ArchiveTarget } from "./target.ts";

export type Probe = ReturnType<typeof createProbe>;

export function createProbe(opts: { target: ArchiveTarget; log: Logger; events: Events; everyMs: number }) {
  const { target, log, events } = opts;
  /** Last known reachability of the target; null until something failed. */
  let trouble: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  function set(problem: string | null): void {
    if (problem === trouble) return;
    trouble = problem;
    events.emit("archive.target", { problem });
  }

  function probe(): void {
    if (stopped) return;
    void target.check({ write: false }).then((problem) => {
      if (problem === null) {
        if (trouble !== null) log.info(`archive: ${target.where} reachable again`);
        set(null);
        return;
      }
      if (trouble === null) log.warn(`archive: ${problem}; archives wait in the queue until it is back`);
      set(problem);
      if (!stopped) {
        timer = setTimeout(probe, opts.everyMs);
        timer.unref?.();
      }
    });
  }

  return {
    /** What is wrong with the target, or null while it answers. */
    get trouble(): string | null {
      return trouble;
    },
    /** An upload reached the target. */
    ok: () => set(null),
    /** An upload could not reach the target (unreachable, denied, missing bucket). */
    failed: (message: string) => set(message),
    /** Checks the target now, and again every `everyMs` while it does not answer. */
    start: probe,
    stop(): void {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    },
  };
}
