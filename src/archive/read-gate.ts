// Archive reads on a bounded number of connections: a reader that stops pulling gives its connection back and resumes.
import { AppError } from "../errors.ts";

/** Opens the stored bytes from `offset` on (a ranged GET). */
export type Opener = (offset: number) => Promise<AsyncIterable<Uint8Array>>;

export interface ReadGateOptions {
  /** Readers holding a connection at once; the others wait. */
  slots: number;
  /** A reader that takes nothing for this long gives its connection back, whether or not anyone waits. */
  stallMs: number;
  /** A reader that takes nothing for this long gives its connection to a waiting reader. */
  graceMs: number;
  /** A reader that waits this long for a connection fails with a 503 `archive_busy`. */
  waitMs: number;
  /** Names the setting in messages. */
  setting: string;
}

interface Holder {
  /** When the consumer last stopped pulling; null while it pulls (never dropped then). */
  idleSince: number | null;
  /** Closes the open body and frees the slot; the reader reopens at its offset when pulled again. */
  drop(): void;
}

interface Waiter {
  grant(): void;
}

export type ReadGate = ReturnType<typeof createReadGate>;

export function createReadGate(opts: ReadGateOptions) {
  const holders = new Set<Holder>();
  const waiting: Waiter[] = [];
  const counts = { dropped: 0, resumed: 0, refused: 0 };
  let sweeper: ReturnType<typeof setInterval> | null = null;

  /** Frees the slot of the reader idle longest, if it has been idle at least `ms`. */
  function reclaim(ms: number, now: number): boolean {
    let oldest: Holder | null = null;
    for (const h of holders) {
      if (
        h.idleSince !== null &&
        now - h.idleSince >= ms &&
        (oldest === null || h.idleSince < oldest.idleSince!)
      )
        oldest = h;
    }
    if (oldest === null) return false;
    oldest.drop();
    return true;
  }

  function sweep(): void {
    const now = performance.now();
    for (const h of [...holders]) {
      if (h.idleSince !== null && now - h.idleSince >= opts.stallMs) h.drop();
    }
    while (waiting.length > 0 && holders.size >= opts.slots && reclaim(opts.graceMs, now)) {}
    if (holders.size === 0 && sweeper !== null) {
      clearInterval(sweeper);
      sweeper = null;
    }
  }

  function enter(h: Holder): void {
    holders.add(h);
    // Only while someone holds a slot: an idle server runs no timer.
    if (sweeper === null) {
      sweeper = setInterval(sweep, Math.max(10, Math.min(opts.graceMs, opts.stallMs) / 4));
      sweeper.unref?.();
    }
  }

  function release(h: Holder): void {
    if (!holders.delete(h)) return;
    while (waiting.length > 0 && holders.size < opts.slots) waiting.shift()!.grant();
  }

  async function acquire(h: Holder): Promise<void> {
    if (holders.size >= opts.slots && waiting.length === 0) reclaim(opts.graceMs, performance.now());
    if (holders.size < opts.slots && waiting.length === 0) return enter(h);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const w: Waiter = {
      grant() {
        clearTimeout(timer);
        enter(h);
        resolve();
      },
    };
    const timer = setTimeout(() => {
      waiting.splice(waiting.indexOf(w), 1);
      counts.refused++;
      reject(
        new AppError(
          503,
          "archive_busy",
          `no archive connection became free within ${opts.waitMs} ms: ${opts.slots} archive reads are running (${opts.setting}); retry`,
          { "Retry-After": "5" },
        ),
      );
    }, opts.waitMs);
    waiting.push(w);
    return promise;
  }

  /**
   * Opens a read (its first GET) once a slot is free, and returns its bytes. A consumer that stops pulling
   * for `graceMs` while others wait, or for `stallMs` in any case, loses its GET; when it pulls again, a
   * ranged GET continues at the byte it stopped at, so a stalled client costs no connection and sees no gap.
   */
  async function open(opener: Opener): Promise<AsyncIterable<Uint8Array>> {
    let body: AsyncIterator<Uint8Array> | null = null;
    const h: Holder = {
      idleSince: null,
      drop() {
        h.idleSince = null;
        if (body !== null) {
          const b = body;
          body = null;
          counts.dropped++;
          void b.return?.()?.catch(() => {});
        }
        release(h);
      },
    };
    await acquire(h);
    try {
      body = (await opener(0))[Symbol.asyncIterator]();
    } catch (e) {
      release(h);
      throw e;
    }
    // Idle until first pulled: a read that is never consumed still gives its slot back.
    h.idleSince = performance.now();
    return (async function* () {
      let offset = 0;
      try {
        for (;;) {
          h.idleSince = null;
          if (body === null) {
            await acquire(h);
            try {
              body = (await opener(offset))[Symbol.asyncIterator]();
            } catch (e) {
              release(h);
              throw e;
            }
            counts.resumed++;
          }
          const r = await body.next();
          if (r.done) return;
          offset += r.value.length;
          h.idleSince = performance.now();
          yield r.value;
        }
      } finally {
        h.idleSince = null;
        const b = body;
        body = null;
        release(h);
        await b?.return?.();
      }
    })();
  }

  return {
    open,
    /** For `GET /api/stats`: reads holding a connection, waiting for one, and stalled reads dropped so far. */
    stats: () => ({ open: holders.size, waiting: waiting.length, ...counts }),
  };
}
