// A bounded LRU of answers with a time to live per entry, on an injected clock (pure: no timers, no I/O).

export interface TtlLru<V> {
  get(key: string): V | undefined;
  set(key: string, value: V, ttlMs: number): void;
  readonly size: number;
}

export function createTtlLru<V>(maxEntries: number, now: () => number = Date.now): TtlLru<V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const entries = new Map<string, { value: V; expires: number }>();
  return {
    get(key) {
      const e = entries.get(key);
      if (e === undefined) return undefined;
      entries.delete(key);
      if (e.expires <= now()) return undefined;
      entries.set(key, e);
      return e.value;
    },
    set(key, value, ttlMs) {
      entries.delete(key);
      if (ttlMs <= 0) return;
      entries.set(key, { value, expires: now() + ttlMs });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    get size() {
      return entries.size;
    },
  };
}
