// ANSI escape sequences of one log line → styled segments, as a terminal would show the line: SGR colours
// (16, 256, truecolor) and styles, `\r` and backspace overwriting, erase-in-line; other sequences dropped.

/** A palette index (0–255) or a `#rrggbb` colour. */
export type Color = number | string;

export interface Style {
  fg: Color | null;
  bg: Color | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  strike: boolean;
  inverse: boolean;
}

export interface Segment {
  text: string;
  style: Style;
}

export const PLAIN: Style = Object.freeze({
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  strike: false,
  inverse: false,
});

/** Whether a line needs the parser at all (most lines carry no escape, `\r` or backspace). */
const SPECIAL = /[\x1b\r\b]/;
/** Sequences that move the cursor inside the line: the text must be laid out cell by cell. */
const CURSOR = /[\r\b]|\x1b\[[0-9;]*[KCDG]/;

export function parseAnsi(input: string): Segment[] {
  if (!SPECIAL.test(input)) return input === "" ? [] : [{ text: input, style: PLAIN }];
  return CURSOR.test(input) ? byCells(input) : bySegments(input);
}

/** The text without escape sequences, as displayed (what a search highlight works on). */
export function plainText(input: string): string {
  return parseAnsi(input)
    .map((s) => s.text)
    .join("");
}

type Token =
  | { kind: "text"; text: string }
  | { kind: "sgr"; params: string }
  | { kind: "csi"; params: string; final: string }
  | { kind: "cr" }
  | { kind: "bs" };

/** Splits a line into text runs and the control sequences between them. */
function* tokens(s: string): Generator<Token> {
  let i = 0;
  let textStart = 0;
  const flush = function* (end: number): Generator<Token> {
    if (end > textStart) yield { kind: "text", text: s.slice(textStart, end) };
  };
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 8) {
      yield* flush(i);
      yield c === 13 ? { kind: "cr" } : { kind: "bs" };
      textStart = ++i;
      continue;
    }
    if (c !== 27) {
      i++;
      continue;
    }
    yield* flush(i);
    const next = s[i + 1];
    if (next === "[") {
      // CSI: parameter bytes 0x30–0x3f, intermediates 0x20–0x2f, one final byte 0x40–0x7e.
      let j = i + 2;
      while (j < s.length && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x3f) j++;
      const params = s.slice(i + 2, j);
      while (j < s.length && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++;
      const final = s[j] ?? "";
      i = j + 1;
      if (final === "m") yield { kind: "sgr", params };
      else if (final !== "") yield { kind: "csi", params, final };
    } else if (next === "]") {
      // OSC (titles, hyperlinks): up to BEL or ESC \; the text of a hyperlink stays as plain text.
      let j = i + 2;
      while (j < s.length && s.charCodeAt(j) !== 7 && !(s.charCodeAt(j) === 27 && s[j + 1] === "\\")) j++;
      i = j < s.length && s.charCodeAt(j) === 7 ? j + 1 : j + 2;
    } else {
      i += next === undefined ? 1 : 2; // a two-byte escape (ESC c, ESC =, ...): dropped
    }
    textStart = i;
  }
  yield* flush(i);
}

function bySegments(input: string): Segment[] {
  const out: Segment[] = [];
  let style = PLAIN;
  for (const t of tokens(input)) {
    if (t.kind === "text") {
      const last = out[out.length - 1];
      if (last !== undefined && sameStyle(last.style, style)) last.text += t.text;
      else out.push({ text: t.text, style });
    } else if (t.kind === "sgr") style = applySgr(style, t.params);
  }
  return out;
}

/** A line whose cursor moves: characters land in cells and overwrite what is under them. */
function byCells(input: string): Segment[] {
  const chars: string[] = [];
  const styles: Style[] = [];
  let cursor = 0;
  let style = PLAIN;
  const put = (ch: string, st: Style) => {
    while (chars.length < cursor) {
      chars.push(" ");
      styles.push(PLAIN);
    }
    chars[cursor] = ch;
    styles[cursor] = st;
    cursor++;
  };
  for (const t of tokens(input)) {
    switch (t.kind) {
      case "text":
        for (const ch of t.text) put(ch, style);
        break;
      case "cr":
        cursor = 0;
        break;
      case "bs":
        cursor = Math.max(0, cursor - 1);
        break;
      case "sgr":
        style = applySgr(style, t.params);
        break;
      case "csi": {
        const n = Number.parseInt(t.params || "0", 10) || 0;
        if (t.final === "K") {
          if (n === 0) {
            chars.length = Math.min(chars.length, cursor);
            styles.length = chars.length;
          } else if (n === 1) {
            for (let i = 0; i <= cursor && i < chars.length; i++) {
              chars[i] = " ";
              styles[i] = PLAIN;
            }
          } else {
            chars.length = 0;
            styles.length = 0;
          }
        } else if (t.final === "C") cursor += Math.max(1, n);
        else if (t.final === "D") cursor = Math.max(0, cursor - Math.max(1, n));
        else if (t.final === "G") cursor = Math.max(0, (n || 1) - 1);
        break;
      }
    }
  }
  const out: Segment[] = [];
  for (let i = 0; i < chars.length; i++) {
    const st = styles[i]!;
    const last = out[out.length - 1];
    if (last !== undefined && sameStyle(last.style, st)) last.text += chars[i];
    else out.push({ text: chars[i]!, style: st });
  }
  return out;
}

/** Applies one SGR sequence's parameters (`1;31`, `38;5;208`, `38;2;255;128;0`, `38:2::255:128:0`). */
export function applySgr(style: Style, params: string): Style {
  const groups = params === "" ? ["0"] : params.split(";");
  let s: Style | null = null; // copied on the first change, so unchanged styles stay shared
  const set = <K extends keyof Style>(k: K, v: Style[K]) => {
    s ??= { ...style };
    s[k] = v;
  };
  const num = (x: string | undefined) => (x === undefined || x === "" ? -1 : Number(x));
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const sub = g.includes(":") ? g.split(":") : null;
    const n = sub === null ? num(g) : num(sub[0]);
    if (n === 0 || n === -1) s = { ...PLAIN };
    else if (n === 1) set("bold", true);
    else if (n === 2) set("dim", true);
    else if (n === 3) set("italic", true);
    else if (n === 4 || n === 21) set("underline", sub === null || sub[1] !== "0");
    else if (n === 7) set("inverse", true);
    else if (n === 9) set("strike", true);
    else if (n === 22) {
      set("bold", false);
      set("dim", false);
    } else if (n === 23) set("italic", false);
    else if (n === 24) set("underline", false);
    else if (n === 27) set("inverse", false);
    else if (n === 29) set("strike", false);
    else if (n >= 30 && n <= 37) set("fg", n - 30);
    else if (n >= 90 && n <= 97) set("fg", n - 90 + 8);
    else if (n >= 40 && n <= 47) set("bg", n - 40);
    else if (n >= 100 && n <= 107) set("bg", n - 100 + 8);
    else if (n === 39) set("fg", null);
    else if (n === 49) set("bg", null);
    else if (n === 38 || n === 48) {
      const key = n === 38 ? "fg" : "bg";
      let color: Color | null = null;
      if (sub !== null) {
        // ITU form in one group: 38:5:n, 38:2:r:g:b or 38:2:<colour space>:r:g:b
        const mode = num(sub[1]);
        if (mode === 5) color = index(num(sub[2]));
        else if (mode === 2) {
          const rgb = (sub.length >= 6 ? sub.slice(3, 6) : sub.slice(2, 5)).map(num);
          color = rgbOf(rgb);
        }
      } else {
        const mode = num(groups[i + 1]);
        if (mode === 5) {
          color = index(num(groups[i + 2]));
          i += 2;
        } else if (mode === 2) {
          color = rgbOf(groups.slice(i + 2, i + 5).map(num));
          i += 4;
        }
      }
      if (color !== null) set(key, color);
    }
  }
  return s ?? style;
}

const index = (n: number): number | null => (n >= 0 && n <= 255 ? n : null);
const rgbOf = (rgb: number[]): string | null =>
  rgb.length === 3 && rgb.every((x) => x >= 0 && x <= 255) ? hex(rgb[0]!, rgb[1]!, rgb[2]!) : null;

export const sameStyle = (a: Style, b: Style): boolean =>
  a === b ||
  (a.fg === b.fg &&
    a.bg === b.bg &&
    a.bold === b.bold &&
    a.dim === b.dim &&
    a.italic === b.italic &&
    a.underline === b.underline &&
    a.strike === b.strike &&
    a.inverse === b.inverse);

const hex = (r: number, g: number, b: number) =>
  `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;

const CUBE = [0, 95, 135, 175, 215, 255];

/** The `#rrggbb` of a 256-palette colour from 16 up (0–15 follow the page's theme). */
export function paletteColor(n: number): string {
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return hex(v, v, v);
  }
  const i = n - 16;
  return hex(CUBE[Math.floor(i / 36)]!, CUBE[Math.floor(i / 6) % 6]!, CUBE[i % 6]!);
}
