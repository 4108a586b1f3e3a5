// Per-key turns: work for one key runs one at a time, in the order it asked; different keys run side by side.

export function createSerial() {
  const tails = new Map<string, Promise<unknown>>();
  const noop = () => {};

  return {
    /** Runs `fn` once every earlier `run` of `key` has settled; its result (or failure) is the caller's alone. */
    run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const before = tails.get(key);
      const result = before === undefined ? fn() : before.then(fn, fn);
      const tail = result.then(noop, noop);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    /** Resolves once nothing runs for any key. */
    async idle(): Promise<void> {
      while (tails.size > 0) await Promise.all([...tails.values()]);
    },
    /** Keys with work running or waiting. */
    get size(): number {
      return tails.size;
    },
  };
}
