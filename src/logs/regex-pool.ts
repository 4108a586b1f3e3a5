// One regex worker for the server: tasks run one at a time, each bounded; a task past its deadline
// terminates the worker (the pattern backtracks catastrophically) and the next task starts a fresh one.
import { AppError } from "../errors.ts";
import type { RegexReply, RegexTask } from "./regex-worker.ts";

export type RegexPool = ReturnType<typeof createRegexPool>;

/**
 * In a compiled binary the worker is an entry point of its own at `logs/regex-worker.ts` under the bundle's
 * root (see scripts/build.ts); from source it sits beside this file.
 */
function workerUrl(): string {
  return import.meta.url.includes("$bunfs")
    ? "./logs/regex-worker.ts"
    : new URL("./regex-worker.ts", import.meta.url).href;
}

export function createRegexPool(opts: { taskTimeoutMs?: number } = {}) {
  const timeoutMs = opts.taskTimeoutMs ?? 2000;
  let worker: Worker | null = null;
  let tail: Promise<unknown> = Promise.resolve();
  let ids = 0;

  function run(task: Omit<RegexTask, "id">): Promise<RegexReply> {
    const next = tail.then(() => runNow(task));
    tail = next.catch(() => {});
    return next;
  }

  function runNow(task: Omit<RegexTask, "id">): Promise<RegexReply> {
    if (worker === null) {
      worker = new Worker(workerUrl());
      worker.unref(); // an idle worker must not keep the process alive
    }
    const w = worker;
    const id = ++ids;
    const { promise, resolve, reject } = Promise.withResolvers<RegexReply>();
    const timer = setTimeout(() => {
      kill();
      reject(
        new AppError(
          422,
          "regex_too_slow",
          `the regular expression took over ${timeoutMs} ms on one block of the log (catastrophic backtracking?): simplify it or search for a text`,
        ),
      );
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      w.removeEventListener("message", onMessage);
      w.removeEventListener("error", onError);
    };
    const onMessage = (e: MessageEvent<RegexReply>) => {
      if (e.data.id !== id) return;
      done();
      resolve(e.data);
    };
    const onError = (e: ErrorEvent) => {
      done();
      kill();
      reject(new Error(`regex worker failed: ${e.message}`));
    };
    w.addEventListener("message", onMessage);
    w.addEventListener("error", onError);
    w.postMessage({ ...task, id }, [task.bytes.buffer as ArrayBuffer]);
    return promise;
  }

  function kill(): void {
    worker?.terminate();
    worker = null;
  }

  return { run, close: kill };
}
