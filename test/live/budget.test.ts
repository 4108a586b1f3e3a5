// The viewers' buffer budget: whom it closes past the limit, how, and when a closed socket's buffer stops counting.
import { describe, expect, test } from "bun:test";
import { createBudget, type Holder } from "../../src/live/budget.ts";

const KB = 1000;

function setup(maxBytes = 1000 * KB) {
  let now = 0;
  const budget = createBudget<Holder & { name: string }>({ maxBytes, lingerMs: 20_000, now: () => now });
  const viewer = (name: string) => ({ name, buffered: 0 });
  return { budget, viewer, tick: (ms: number) => (now += ms) };
}

const names = (out: Array<{ holder: { name: string }; how: string }>) =>
  out.map((e) => `${e.holder.name} ${e.how}`);

describe("viewer buffer budget", () => {
  test("within half the budget nobody is closed; past it the viewer stalled longest goes first", () => {
    const { budget, viewer } = setup();
    const [a, b, c] = [viewer("a"), viewer("b"), viewer("c")];
    budget.set(a, 200 * KB);
    budget.set(b, 200 * KB);
    expect(budget.evictions()).toEqual([]);
    // a drains and blocks again: it is now the newest holder.
    budget.set(a, 0);
    budget.set(a, 250 * KB);
    budget.set(c, 100 * KB);
    expect(names(budget.evictions())).toEqual(["b close"]);
    expect(budget.stats()).toEqual({
      max_buffered_bytes: 1000 * KB,
      buffered_bytes: 350 * KB,
      closing_bytes: 200 * KB,
      closed_over_budget: { resumable: 1, cut: 0 },
    });
  });

  test("a viewer is closed with a reason while the closing half has room for its buffer, cut off once it has not", () => {
    const { budget, viewer, tick } = setup();
    const vs = Array.from({ length: 8 }, (_, i) => viewer(`v${i}`));
    for (const v of vs) budget.set(v, 150 * KB);
    // Open 1,200 KB past 500: v0..v4 go; the closing half (500 KB) takes three buffers of 150 KB.
    expect(names(budget.evictions())).toEqual(["v0 close", "v1 close", "v2 close", "v3 cut", "v4 cut"]);
    expect(budget.stats()).toMatchObject({ buffered_bytes: 450 * KB, closing_bytes: 450 * KB });
    // Once Bun has freed the closed buffers, the next viewer over the limit gets a reason again.
    tick(20_000);
    const late = viewer("late");
    budget.set(late, 100 * KB);
    expect(names(budget.evictions())).toEqual(["v5 close"]);
    expect(budget.stats()).toMatchObject({ buffered_bytes: 400 * KB, closing_bytes: 150 * KB });
  });

  test("a socket the server closed keeps counting until Bun frees it; one its client closed stops at once", () => {
    const { budget, viewer, tick } = setup();
    const [a, b] = [viewer("a"), viewer("b")];
    budget.set(a, 100 * KB);
    budget.set(b, 100 * KB);
    budget.release(a, true);
    budget.release(b, false);
    expect(budget.stats()).toMatchObject({ buffered_bytes: 0, closing_bytes: 100 * KB });
    tick(19_999);
    expect(budget.stats()).toMatchObject({ closing_bytes: 100 * KB });
    tick(1);
    expect(budget.stats()).toMatchObject({ closing_bytes: 0 });
    // Released twice (closed, then its close event): counted once.
    budget.release(a, true);
    expect(budget.stats()).toMatchObject({ buffered_bytes: 0, closing_bytes: 0 });
  });
});
