// The total budget for what Bun buffers for live viewers that do not keep up: who holds what, whom to close past it.

/** What one viewer's socket holds: frames Bun accepted but could not write yet. */
export interface Holder {
  /** Bytes Bun buffers for this socket, as last reported (send back-pressure, drain). */
  buffered: number;
}

/** A viewer to close: `close` with a reason (its frames stay until read or timed out), or `cut` (freed now). */
export interface Eviction<T> {
  holder: T;
  how: "close" | "cut";
}

export interface BudgetOptions {
  /** stream.max_buffered_bytes: open viewers hold at most half, viewers being closed the other half. */
  maxBytes: number;
  /**
   * How long a closed socket's buffer is counted after the close. Bun sends the close frame after the
   * buffered frames and frees them when the client has read them or its close times out (≤ 16 s measured
   * on Bun 1.4.5 for every ping interval; the buffer cannot be dropped while the close frame waits).
   */
  lingerMs: number;
  now: () => number;
}

export type Budget<T extends Holder> = ReturnType<typeof createBudget<T>>;

export function createBudget<T extends Holder>(opts: BudgetOptions) {
  const openLimit = Math.floor(opts.maxBytes / 2);
  const closingLimit = opts.maxBytes - openLimit;
  // Insertion order is the order viewers started holding bytes: the first is the one stalled longest.
  const holders = new Set<T>();
  let open = 0;
  /** Buffers of sockets closed with bytes still in them, oldest first. */
  const closing: Array<{ bytes: number; until: number }> = [];
  let closingBytes = 0;
  const evicted = { resumable: 0, cut: 0 };

  function forgetExpired(): void {
    const now = opts.now();
    while (closing.length > 0 && closing[0]!.until <= now) closingBytes -= closing.shift()!.bytes;
  }

  function remove(h: T): number {
    if (!holders.delete(h)) return 0;
    const bytes = h.buffered;
    open -= bytes;
    h.buffered = 0;
    return bytes;
  }

  function linger(bytes: number): void {
    if (bytes === 0) return;
    closing.push({ bytes, until: opts.now() + opts.lingerMs });
    closingBytes += bytes;
  }

  return {
    /** Records what a viewer's socket now buffers (0 once it drained). */
    set(h: T, bytes: number): void {
      if (bytes === h.buffered) return;
      if (bytes === 0) {
        remove(h);
        return;
      }
      if (h.buffered === 0) holders.add(h);
      open += bytes - h.buffered;
      h.buffered = bytes;
    },
    /** The viewer is gone: `closed` by the server with a close frame (its buffer lingers) or by its client. */
    release(h: T, closed: boolean): void {
      const bytes = remove(h);
      if (closed) linger(bytes);
    },
    /**
     * Whom to close now: while open viewers hold more than half the budget, the one stalled longest. It is
     * closed with a reason while the closing half has room for its buffer, and cut off (its buffer freed at
     * once) when it has not. The accounting is done here; the caller closes the sockets.
     */
    evictions(): Array<Eviction<T>> {
      if (open <= openLimit) return [];
      forgetExpired();
      const out: Array<Eviction<T>> = [];
      for (const h of holders) {
        if (open <= openLimit) break;
        const bytes = remove(h);
        const how = closingBytes + bytes <= closingLimit ? "close" : "cut";
        if (how === "close") {
          linger(bytes);
          evicted.resumable++;
        } else evicted.cut++;
        out.push({ holder: h, how });
      }
      return out;
    },
    stats() {
      forgetExpired();
      return {
        max_buffered_bytes: opts.maxBytes,
        buffered_bytes: open,
        closing_bytes: closingBytes,
        closed_over_budget: { ...evicted },
      };
    },
  };
}
