// One log row in the DOM: line number (a link), time, step, the text with its ANSI styles and search marks.
import { type Color, paletteColor, parseAnsi, type Segment } from "./ansi.ts";
import { clock } from "./format.ts";
import type { ViewLine } from "./logline.ts";

export interface RowOptions {
  jobId: string;
  showTime: boolean;
  utc: boolean;
  showStep: boolean;
  /** Marks occurrences of the search in the text. */
  highlight: ((text: string) => Array<[number, number]>) | null;
  /** Longest text rendered in a row; the rest is cut with a note (a 1 MiB line would stall the page). */
  maxChars: number;
}

const colorCss = (c: Color): string =>
  typeof c === "string" ? c : c < 16 ? `var(--ansi-${c})` : paletteColor(c);

function styleAttr(seg: Segment): string | null {
  const st = seg.style;
  let fg = st.fg;
  let bg = st.bg;
  if (st.inverse) [fg, bg] = [bg ?? -1, fg ?? -2];
  const css: string[] = [];
  if (fg !== null) css.push(`color:${fg === -1 ? "var(--bg)" : fg === -2 ? "var(--fg)" : colorCss(fg)}`);
  if (bg !== null) {
    css.push(`background:${bg === -1 ? "var(--bg)" : bg === -2 ? "var(--fg)" : colorCss(bg)}`);
  }
  if (st.bold) css.push("font-weight:bold");
  if (st.dim) css.push("opacity:.6");
  if (st.italic) css.push("font-style:italic");
  const deco = [st.underline ? "underline" : "", st.strike ? "line-through" : ""].filter(Boolean).join(" ");
  if (deco) css.push(`text-decoration:${deco}`);
  return css.length === 0 ? null : css.join(";");
}

/** The text of a row: styled segments, with `marks` (ranges in the displayed text) wrapped in <mark>. */
export function textNode(segments: Segment[], marks: Array<[number, number]>): DocumentFragment {
  const frag = document.createDocumentFragment();
  let pos = 0;
  let m = 0;
  for (const seg of segments) {
    const css = styleAttr(seg);
    const host = css === null ? frag : document.createElement("span");
    if (css !== null) (host as HTMLElement).setAttribute("style", css);
    const end = pos + seg.text.length;
    let at = pos;
    while (at < end) {
      while (m < marks.length && marks[m]![1] <= at) m++;
      const mark = marks[m];
      if (mark === undefined || mark[0] >= end) {
        host.append(seg.text.slice(at - pos));
        at = end;
      } else if (mark[0] > at) {
        host.append(seg.text.slice(at - pos, mark[0] - pos));
        at = mark[0];
      } else {
        const stop = Math.min(end, mark[1]);
        const el = document.createElement("mark");
        el.textContent = seg.text.slice(at - pos, stop - pos);
        host.append(el);
        at = stop;
      }
    }
    if (host !== frag) frag.append(host);
    pos = end;
  }
  return frag;
}

/** The parts of a rendered row, kept so that a row leaving the view can show another line (no new nodes). */
interface Parts {
  ln: HTMLAnchorElement;
  ts: HTMLElement | null;
  step: HTMLElement | null;
  tx: HTMLElement;
}
const partsOf = new WeakMap<HTMLElement, Parts>();

function span(cls: string): HTMLElement {
  const el = document.createElement("span");
  el.className = cls;
  return el;
}

/**
 * The row of `line`; `reuse` is a row that left the view: when it has the same columns it is filled with this
 * line instead of building a new one. Following 10,000 lines/s every row in view is new at each frame, and
 * refilling them costs less than making and dropping ~50 rows of nodes each time.
 */
export function renderRow(
  line: ViewLine,
  o: RowOptions,
  classes: string,
  reuse: HTMLElement | null = null,
): HTMLElement {
  let parts = reuse === null ? undefined : partsOf.get(reuse);
  if (parts !== undefined && (parts.ts !== null) !== o.showTime) parts = undefined;
  if (parts !== undefined && (parts.step !== null) !== o.showStep) parts = undefined;
  let row: HTMLElement;
  if (parts !== undefined && reuse !== null) row = reuse;
  else {
    row = document.createElement("div");
    const ln = document.createElement("a");
    ln.className = "ln";
    ln.title = "copy a link to this line";
    parts = {
      ln,
      ts: o.showTime ? span("ts") : null,
      step: o.showStep ? span("step") : null,
      tx: span("tx"),
    };
    row.append(ln);
    if (parts.ts !== null) row.append(parts.ts);
    if (parts.step !== null) row.append(parts.step);
    row.append(parts.tx);
    partsOf.set(row, parts);
  }
  row.className = `row${line.stream === "stderr" ? " stderr" : ""}${classes}`;
  row.dataset.n = String(line.n);
  const number = String(line.n + 1);
  parts.ln.href = `#L${number}`;
  parts.ln.textContent = number;
  if (parts.ts !== null) {
    parts.ts.textContent = line.ts === "" ? "" : clock(line.ts, o.utc);
    parts.ts.title = line.ts;
  }
  if (parts.step !== null && parts.step.textContent !== line.step) {
    parts.step.textContent = line.step;
    parts.step.title = line.step;
  }
  const tx = parts.tx;
  let text = line.text;
  let cut = 0;
  if (text.length > o.maxChars) {
    cut = text.length - o.maxChars;
    text = text.slice(0, o.maxChars);
  }
  const segments = parseAnsi(text);
  const only = segments.length === 1 ? segments[0]! : null;
  if (cut === 0 && o.highlight === null && only !== null && styleAttr(only) === null) {
    tx.textContent = only.text; // the common row: one text node, no spans
  } else if (cut === 0 && o.highlight === null && segments.length === 0) tx.textContent = "";
  else {
    const shown = segments.map((s) => s.text).join("");
    tx.replaceChildren(textNode(segments, o.highlight === null ? [] : o.highlight(shown)));
    if (cut > 0) {
      const more = span("cut");
      more.textContent = ` …[${cut.toLocaleString("en")} more characters: download the log to see them]`;
      tx.append(more);
    }
  }
  return row;
}

export function placeholderRow(k: number, n: number | null, error: string | null): HTMLElement {
  const row = document.createElement("div");
  row.className = `row placeholder${error === null ? "" : " error"}`;
  const ln = document.createElement("span");
  ln.className = "ln";
  ln.textContent = n === null ? "" : String(n + 1);
  const tx = document.createElement("span");
  tx.className = "tx";
  tx.textContent = error === null ? "" : `could not load this part of the log: ${error}`;
  row.dataset.k = String(k);
  row.append(ln, tx);
  return row;
}
