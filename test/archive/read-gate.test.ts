// The archive read gate: a reader that stops pulling gives its connection back and resumes at its byte; waits are bounded.
import { describe, expect, test } from "bun:test";
import { createReadGate, type ReadGateOptions } from "../../src/archive/read-gate.ts";
import { AppError } from "../../src/errors.ts";
import { waitFor } from "../support/wait.ts";

const DATA = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

/** A stored object served in 10-byte chunks from any offset; records each open and each close. */
function object() {
  const opens: number[] = [];
  let open = 0;
  return {
    opens,
    open: () => open,
    opener: async (offset: number): Promise<AsyncIterable<Uint8Array>> => {
      opens.push(offset);
      open++;
      return (async function* () {
        try {
          for (let i = offset; i < DATA.length; i += 10) yield DATA.subarray(i, i + 10);
        } finally {
          open--;
        }
      })();
    },
  };
}

const gate = (o: Partial<ReadGateOptions>) =>
  createReadGate({
    slots: 1,
    stallMs: 10_000,
    graceMs: 10_000,
    waitMs: 10_000,
    setting: "test.max_open",
    ...o,
  });

async function readAll(it: AsyncIterator<Uint8Array>, got: Uint8Array[] = []): Promise<Buffer> {
  for (;;) {
    const r = await it.next();
    if (r.done) return Buffer.concat(got);
    got.push(r.value);
  }
}

describe("archive read gate", () => {
  test("a reader that stops pulling gives its connection to a waiting one after the grace time, then resumes at its byte", async () => {
    const g = gate({ graceMs: 30 });
    const a = object();
    const b = object();
    const first = (await g.open(a.opener))[Symbol.asyncIterator]();
    const got = [(await first.next()).value as Uint8Array];
    // `a` holds the only slot and stops pulling: `b` gets it once `a` was idle for the grace time.
    const other = await readAll((await g.open(b.opener))[Symbol.asyncIterator]());
    const rest = await readAll(first, got);
    expect({
      other: other.equals(DATA),
      rest: rest.equals(DATA),
      a: a.opens,
      b: b.opens,
      stats: g.stats(),
    }).toEqual({
      other: true,
      rest: true,
      a: [0, 10],
      b: [0],
      stats: { open: 0, waiting: 0, dropped: 1, resumed: 1, refused: 0 },
    });
  });

  test("a reader idle past the stall timeout loses its connection even when nobody waits, and reads on whole", async () => {
    const g = gate({ stallMs: 30 });
    const a = object();
    const it = (await g.open(a.opener))[Symbol.asyncIterator]();
    const got = [(await it.next()).value as Uint8Array, (await it.next()).value as Uint8Array];
    await waitFor("the stalled read to be dropped", () => g.stats().dropped === 1 && a.open() === 0, 5_000);
    const whole = await readAll(it, got);
    expect({ whole: whole.equals(DATA), opens: a.opens, stats: g.stats() }).toEqual({
      whole: true,
      opens: [0, 20],
      stats: { open: 0, waiting: 0, dropped: 1, resumed: 1, refused: 0 },
    });
  });

  test("a read that gets no connection within the wait timeout is a 503 archive_busy naming the setting", async () => {
    const g = gate({ waitMs: 30 });
    const a = object();
    // Opened and never pulled: it holds the slot until the (long) grace or stall time.
    await g.open(a.opener);
    let error: unknown = null;
    await g.open(object().opener).catch((e) => {
      error = e;
    });
    const e = error as AppError;
    expect({ isAppError: e instanceof AppError, status: e.status, code: e.code, message: e.message }).toEqual(
      {
        isAppError: true,
        status: 503,
        code: "archive_busy",
        message:
          "no archive connection became free within 30 ms: 1 archive reads are running (test.max_open); retry",
      },
    );
  });
});
