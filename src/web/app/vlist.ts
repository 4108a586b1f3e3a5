// The virtual list: renders only the rows in view, positioned by row number (not pixels), so a log of any
// length scrolls the same; a native scrollbar beside it maps its position to a row.

export interface VListOptions {
  count(): number;
  /** A key per row state: a row is re-rendered when its key changes (loaded, highlighted, restyled). */
  keyOf(k: number): string;
  /** Row `k`'s element; `reuse` is an element that left the view, to be filled instead of making one. */
  render(k: number, reuse: HTMLElement | null): HTMLElement;
  /** The rows in view changed (load them). */
  onRange(from: number, to: number): void;
  /** The person scrolled: `atBottom` tells whether they are at the end now. */
  onUserScroll(atBottom: boolean): void;
}

/** Tallest spacer the scrollbar gets; past it one pixel of the bar is several rows. */
const MAX_SPACER = 8_000_000;

export class VList {
  readonly el: HTMLElement;
  private readonly rows: HTMLElement;
  private readonly inner: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly spacer: HTMLElement;
  /** First row in view, and how many pixels of it are scrolled past. */
  private top = 0;
  private offset = 0;
  /** Keep the last row at the bottom (following a running job). */
  stick = false;
  private rowH = 18;
  private heights = new Map<number, number>();
  private shown = new Map<number, { key: string; el: HTMLElement }>();
  private frame = 0;
  private range: [number, number] = [0, 0];
  // Sizes come from the ResizeObserver and what was last written: reading them back each frame would force a
  // layout in the middle of the frame (it was most of the page's time while following 10,000 lines/s).
  private viewH = 0;
  private barH = 0;
  private spacerH = -1;
  private barTop = -1;

  constructor(private readonly opts: VListOptions) {
    this.el = document.createElement("div");
    this.el.className = "vlist";
    this.el.tabIndex = 0;
    this.rows = document.createElement("div");
    this.rows.className = "vlist-rows";
    this.inner = document.createElement("div");
    this.inner.className = "vlist-inner";
    this.rows.append(this.inner);
    this.bar = document.createElement("div");
    this.bar.className = "vlist-bar";
    this.spacer = document.createElement("div");
    this.spacer.className = "vlist-spacer";
    this.bar.append(this.spacer);
    this.el.append(this.rows, this.bar);

    this.rows.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.bar.addEventListener("scroll", () => this.onBar());
    this.el.addEventListener("keydown", (e) => this.onKey(e));
    new ResizeObserver(() => {
      this.readSizes();
      this.invalidate();
    }).observe(this.el);
  }

  private readSizes(): void {
    this.viewH = this.rows.clientHeight;
    this.barH = this.bar.clientHeight;
  }

  private measured = false;

  /** Asks for the row height to be measured at the next render (once the list is in the document). */
  measure(): void {
    this.measured = false;
    this.invalidate();
  }

  private doMeasure(): void {
    this.measured = true;
    this.readSizes();
    const probe = this.opts.render(0, null);
    probe.style.visibility = "hidden";
    this.inner.append(probe);
    const h = probe.getBoundingClientRect().height;
    probe.remove();
    if (h > 0) this.rowH = h;
  }

  get rowHeight(): number {
    return this.rowH;
  }

  /** Rows currently in view: [first, last]. */
  visible(): [number, number] {
    return this.range;
  }

  get firstRow(): number {
    return this.top;
  }

  invalidate(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Re-renders every row (a display option changed): keys are compared again. */
  restyle(): void {
    this.shown.clear();
    this.heights.clear();
    this.range = [0, -1]; // the rows in view are announced again (another view's rows must load)
    this.inner.replaceChildren();
    this.invalidate();
  }

  scrollToRow(k: number, align: "top" | "center" = "center"): void {
    const n = this.opts.count();
    this.stick = false;
    const viewRows = Math.max(1, Math.floor(this.viewH / this.rowH));
    const target = align === "center" ? k - Math.floor(viewRows / 3) : k;
    this.top = Math.max(0, Math.min(n - 1, target));
    this.offset = 0;
    this.render();
  }

  toBottom(): void {
    this.stick = true;
    this.render();
  }

  atBottom(): boolean {
    const n = this.opts.count();
    return n === 0 || this.range[1] >= n - 1;
  }

  private height(k: number): number {
    return this.heights.get(k) ?? this.rowH;
  }

  scrollBy(dy: number): void {
    const n = this.opts.count();
    if (n === 0) return;
    this.stick = false;
    this.offset += dy;
    while (this.offset >= this.height(this.top) && this.top < n - 1) {
      this.offset -= this.height(this.top);
      this.top++;
    }
    while (this.offset < 0 && this.top > 0) {
      this.top--;
      this.offset += this.height(this.top);
    }
    if (this.offset < 0) this.offset = 0;
    this.render();
    const bottom = this.atBottom() && dy > 0;
    if (bottom) this.stick = true;
    this.opts.onUserScroll(this.stick);
  }

  private onWheel(e: WheelEvent): void {
    if (Math.abs(e.deltaX) > Math.abs(e.deltaY)) return; // horizontal: the browser scrolls the rows
    e.preventDefault();
    const unit = e.deltaMode === 1 ? this.rowH : e.deltaMode === 2 ? this.viewH : 1;
    this.scrollBy(e.deltaY * unit);
  }

  private onKey(e: KeyboardEvent): void {
    const page = Math.max(this.rowH, this.viewH - this.rowH);
    const d: Record<string, number> = {
      ArrowDown: this.rowH,
      ArrowUp: -this.rowH,
      PageDown: page,
      PageUp: -page,
    };
    const dy = d[e.key];
    if (dy === undefined) return;
    e.preventDefault();
    this.scrollBy(dy);
  }

  private onBar(): void {
    const at = this.bar.scrollTop;
    if (Math.abs(at - this.barTop) < 2) return; // the scroll event of our own update
    this.barTop = at;
    const n = this.opts.count();
    const span = this.spacerH - this.barH;
    if (span <= 0 || n === 0) return;
    const frac = Math.min(1, at / span);
    const viewRows = Math.max(1, Math.floor(this.viewH / this.rowH));
    this.stick = frac >= 0.999;
    this.top = Math.round(frac * Math.max(0, n - viewRows));
    this.offset = 0;
    this.render();
    this.opts.onUserScroll(this.stick);
  }

  private render(): void {
    if (this.frame !== 0) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
    }
    if (!this.measured) this.doMeasure();
    const n = this.opts.count();
    const viewH = this.viewH;
    if (n === 0 || viewH === 0) {
      this.inner.replaceChildren();
      this.shown.clear();
      this.range = [0, -1];
      this.syncBar(n);
      return;
    }
    const est = Math.ceil(viewH / this.rowH) + 2;
    if (this.top > n - 1) this.top = n - 1;
    let from = this.stick ? Math.max(0, n - est) : this.top;
    let to = Math.min(n, from + est);
    this.place(from, to);
    let sum = 0;
    for (let k = from; k < to; k++) sum += this.height(k);
    let offset = this.offset;
    if (this.stick || (to === n && sum - offset < viewH)) {
      // Bottom-aligned: the last row ends at the bottom edge (or everything fits).
      if (!this.stick && from > 0 && to - from < est) {
        from = Math.max(0, n - est);
        to = n;
        this.place(from, to);
        sum = 0;
        for (let k = from; k < to; k++) sum += this.height(k);
      }
      offset = Math.max(0, sum - viewH);
      // Normalise: the first row is the one the offset lands in.
      let top = from;
      while (top < to - 1 && offset >= this.height(top)) {
        offset -= this.height(top);
        top++;
      }
      this.top = top;
      this.offset = offset;
      offset = this.offset;
      let skip = 0;
      for (let k = from; k < top; k++) skip += this.height(k);
      this.inner.style.transform = `translateY(${-(skip + offset)}px)`;
    } else {
      this.inner.style.transform = `translateY(${-offset}px)`;
    }
    // The rows actually in view, for loading and for `atBottom`.
    let y = -this.offset;
    let last = this.top;
    for (let k = this.top; k < to; k++) {
      last = k;
      y += this.height(k);
      if (y >= viewH) break;
    }
    const range: [number, number] = [this.top, last];
    if (range[0] !== this.range[0] || range[1] !== this.range[1]) {
      this.range = range;
      this.opts.onRange(range[0], range[1]);
    }
    this.syncBar(n);
  }

  /** Rows are one line high each (no wrapping): heights need no measuring, which would force a layout. */
  fixedHeight = true;

  /**
   * Puts rows [from, to) in the document in order, reusing the rows whose key did not change, refilling the
   * elements of rows that left (in document order, so when every row is new nothing moves), and moving as few
   * nodes as it can (following a log, rows leave at the top and arrive at the bottom).
   */
  private place(from: number, to: number): void {
    const next = new Map<number, { key: string; el: HTMLElement }>();
    const els: HTMLElement[] = [];
    const leaving: HTMLElement[] = [];
    for (const [k, row] of this.shown) if (k < from || k >= to) leaving.push(row.el);
    let spare = 0;
    for (let k = from; k < to; k++) {
      const key = this.opts.keyOf(k);
      const old = this.shown.get(k);
      let row: { key: string; el: HTMLElement };
      if (old !== undefined && old.key === key) row = old;
      else row = { key, el: this.opts.render(k, old?.el ?? leaving[spare++] ?? null) };
      next.set(k, row);
      els.push(row.el);
    }
    const keep = new Set(els);
    for (const { el } of this.shown.values()) if (!keep.has(el)) el.remove();
    this.shown = next;
    let at = this.inner.firstElementChild;
    for (const el of els) {
      if (at === el) at = el.nextElementSibling;
      else this.inner.insertBefore(el, at);
    }
    while (at !== null) {
      const stale = at;
      at = at.nextElementSibling;
      stale.remove();
    }
    this.heights.clear();
    if (this.fixedHeight) return;
    for (let i = 0; i < els.length; i++) {
      const h = els[i]!.offsetHeight;
      if (h > 0) this.heights.set(from + i, h);
    }
  }

  private syncBar(n: number): void {
    const barH = this.barH;
    const viewRows = Math.max(1, Math.floor(this.viewH / this.rowH));
    const total = n * this.rowH;
    // A log many screens long gets the tallest spacer at once: it stops changing (and costing) every frame.
    const spacerH = total <= barH ? barH : total <= barH * 20 ? total : MAX_SPACER;
    if (spacerH !== this.spacerH) {
      this.spacerH = spacerH;
      this.spacer.style.height = `${spacerH}px`;
    }
    const span = spacerH - barH;
    if (span <= 0) return;
    const frac = this.stick ? 1 : Math.min(1, this.top / Math.max(1, n - viewRows));
    const target = Math.round(frac * span);
    if (target === this.barTop) return;
    this.barTop = target;
    this.bar.scrollTop = target;
  }
}
