// The answer cache of Strøm mode: bounded LRU, per-entry time to live, on an injected clock.
import { expect, test } from "bun:test";
import { createTtlLru } from "../../src/strom/cache.ts";

test("an entry is served until its time to live is over, then gone", () => {
  let t = 1000;
  const c = createTtlLru<string>(10, () => t);
  c.set("a", "yes", 30);
  c.set("b", "no", 5);
  t += 5;
  expect([c.get("a"), c.get("b")]).toEqual(["yes", undefined]);
  t += 25;
  expect([c.get("a"), c.size]).toEqual([undefined, 0]);
});

test("past its bound the least recently used entry goes first, and a read counts as a use", () => {
  const c = createTtlLru<number>(2, () => 0);
  c.set("a", 1, 100);
  c.set("b", 2, 100);
  c.get("a");
  c.set("c", 3, 100);
  expect([c.get("a"), c.get("b"), c.get("c"), c.size]).toEqual([1, undefined, 3, 2]);
});

test("a time to live of zero or less stores nothing and drops what was there", () => {
  const c = createTtlLru<number>(2, () => 0);
  c.set("a", 1, 100);
  c.set("a", 2, 0);
  expect([c.get("a"), c.size]).toEqual([undefined, 0]);
});
