// Masking secrets in log text: one multi-pattern search over every form of every value, overlaps merged — pure.
import { secretForms, secretProblem } from "./mask-forms.ts";

export const MASK = "***";

export interface Masker {
  /** `text` with every form of every value replaced by `***`; the same string when nothing matched. */
  mask(text: string): string;
  /**
   * The longest cut ≤ `want` after which `text` may be split without splitting a form: no match crosses it
   * and nothing from it on could still become one when more text follows. What lies before the cut can be
   * masked and let go; what follows must wait for the rest of the text.
   */
  safeCut(text: string, want?: number): number;
  /** Number of values (each has several forms). */
  readonly values: number;
  /** Number of distinct forms searched for. */
  readonly forms: number;
}

/** A masker that masks nothing (no values). */
export const NO_MASK: Masker = {
  mask: (text) => text,
  safeCut: (text, want = text.length) => Math.min(want, text.length),
  values: 0,
  forms: 0,
};

/**
 * Builds the masker for `values`; throws a RangeError naming the first refused value by its position (never
 * the value itself). Rebuild to add values: a masker never changes.
 */
export function createMasker(values: Iterable<string>): Masker {
  const list = [...values];
  list.forEach((v, i) => {
    const problem = secretProblem(v);
    if (problem !== null) throw new RangeError(`secret ${i + 1} of ${list.length}: ${problem}`);
  });
  const forms = new Set<string>();
  for (const v of list) for (const f of secretForms(v)) forms.add(f);
  if (forms.size === 0) return NO_MASK;
  const ac = buildAutomaton([...forms]);
  const filter = buildFilter([...forms]);
  return {
    values: list.length,
    forms: forms.size,
    mask(text) {
      if (!filter(text)) return text;
      const spans = ac.spans(text);
      if (spans.length === 0) return text;
      let out = "";
      let at = 0;
      for (let i = 0; i < spans.length; i += 2) {
        out += text.slice(at, spans[i]) + MASK;
        at = spans[i + 1]!;
      }
      return out + text.slice(at);
    },
    safeCut(text, want = text.length) {
      let cut = Math.min(want, text.length - ac.pendingAt(text));
      const spans = filter(text) ? ac.spans(text) : [];
      for (let i = 0; i < spans.length; i += 2) {
        if (spans[i]! < cut && cut < spans[i + 1]!) cut = spans[i]!;
      }
      return Math.max(0, cut);
    },
  };
}

/**
 * Masks text that arrives in pieces (a terminal echo): what could be the start of a form is held back until
 * the text that follows decides, or until `flush`.
 */
export function createStreamMasker(masker: Masker) {
  let held = "";
  return {
    /** The masked text that can be let go now. */
    push(text: string): string {
      const all = held + text;
      const cut = masker.safeCut(all);
      held = all.slice(cut);
      return masker.mask(all.slice(0, cut));
    },
    /** Everything held back, masked as it stands (the stream ended or went quiet). */
    flush(): string {
      const out = masker.mask(held);
      held = "";
      return out;
    },
    get holding(): boolean {
      return held.length > 0;
    },
  };
}

// ---- Pre-filter: 4-character grams of the forms, sampled along the text ----------------------------------
//
// A form of length L ≥ m contains a gram at each of its offsets 0..m-4, so sampling the text's grams every
// m-3 characters meets one of them wherever the form sits. A sampled gram is looked up in a bitset (about
// one in 64 hits by chance); a hit is confirmed by comparing the forms that have that gram at some offset
// with the text where they would start. So the pre-filter says exactly whether some form occurs: a line
// without one (most lines, by far) costs a few look-ups and is returned untouched; only a line that holds a
// form goes through the automaton, which finds every match and their union. Each group of forms (short
// ones, long ones) keeps its own stride, so one short value does not slow the scan for the long ones.

const GRAM = 4;
/** Forms at least this long share the long stride (a value of 20 characters: a stride of 17). */
const LONG = 16;

/** A gram's key: exact for ASCII (7 bits a character), a hash otherwise (the comparison decides). */
const gramAt = (t: string, i: number): number =>
  ((t.charCodeAt(i) << 21) ^ (t.charCodeAt(i + 1) << 14) ^ (t.charCodeAt(i + 2) << 7) ^ t.charCodeAt(i + 3)) &
  0x0fffffff;

function buildFilter(forms: string[]): (text: string) => boolean {
  const groups = [forms.filter((f) => f.length < LONG), forms.filter((f) => f.length >= LONG)]
    .filter((g) => g.length > 0)
    .map(gramSet);
  if (groups.length === 1) return groups[0]!;
  const [a, b] = groups as [(t: string) => boolean, (t: string) => boolean];
  return (text) => b(text) || a(text);
}

/** Every (gram, form, offset) for the first `stride` offsets of each form, sorted by gram. */
function gramIndex(forms: string[], stride: number) {
  const count = forms.length * stride;
  // gram · 2^24 + entry is exact in a double (28 + 24 bits) and sorts by gram without a comparator.
  const packed = new Float64Array(count);
  for (let e = 0; e < count; e++) packed[e] = gramAt(forms[(e / stride) | 0]!, e % stride) * 2 ** 24 + e;
  packed.sort();
  const grams = new Int32Array(count);
  const formOf = new Int32Array(count);
  const offsetOf = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const e = packed[k]! % 2 ** 24;
    grams[k] = Math.floor(packed[k]! / 2 ** 24);
    formOf[k] = (e / stride) | 0;
    offsetOf[k] = e % stride;
  }
  return { count, grams, formOf, offsetOf };
}

function gramSet(forms: string[]): (text: string) => boolean {
  let min = forms[0]!.length;
  for (const f of forms) min = Math.min(min, f.length);
  // Integers, so the index arithmetic of the scan stays in int32 (a double index is a slow charCodeAt).
  const stride = (min - GRAM + 1) | 0;
  const { count, grams, formOf, offsetOf } = gramIndex(forms, stride);

  let bits = 12;
  while (bits < 22 && 1 << bits < count * 64) bits++;
  const shift = 32 - bits;
  const table = new Uint8Array(1 << (bits - 3));
  for (let e = 0; e < count; e++) {
    const slot = Math.imul(grams[e]!, 0x9e3779b1) >>> shift;
    table[slot >>> 3]! |= 1 << (slot & 7);
  }

  /** Whether a form with gram `g` at some offset starts where that offset puts it (gram at `i`). */
  function confirm(text: string, g: number, i: number): boolean {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (grams[mid]! < g) lo = mid + 1;
      else hi = mid;
    }
    for (let e = lo; e < count && grams[e] === g; e++) {
      const start = i - offsetOf[e]!;
      if (start >= 0 && text.startsWith(forms[formOf[e]!]!, start)) return true;
    }
    return false;
  }

  return (text) => {
    // A form at p has a sample q with p ≤ q ≤ p + stride - 1 ≤ p + length - 4: never past the last gram.
    const last = text.length - GRAM;
    for (let i = 0; i <= last; i += stride) {
      const g = gramAt(text, i);
      const slot = Math.imul(g, 0x9e3779b1) >>> shift;
      if ((table[slot >>> 3]! & (1 << (slot & 7))) !== 0 && confirm(text, g, i)) return true;
    }
    return false;
  };
}

// ---- Aho–Corasick automaton over UTF-16 units -----------------------------------------------------------
//
// Run only on lines the filter let through. Edges are kept per node, sorted by character, in flat arrays
// (most nodes of a trie of random strings have one child); ASCII edges of the root in a direct table.

interface Automaton {
  /** Merged [start, end) spans of every match, flattened; overlapping and touching matches are one span. */
  spans(text: string): number[];
  /** Length of the longest suffix of `text` that is the start of some form (0 when none). */
  pendingAt(text: string): number;
}

/**
 * The trie, built from the forms in sorted order: a form shares the path of its common prefix with the one
 * before it and adds a chain for the rest, so no lookup structure is needed, and the children of a node are
 * made in increasing character order. Then failure links, breadth first. Its own function, so that none of
 * the build-time arrays outlives it.
 */
function buildTrie(forms: string[]) {
  const sorted = [...forms].sort();
  let total = 0;
  let maxForm = 0;
  for (const f of sorted) {
    total += f.length;
    maxForm = Math.max(maxForm, f.length);
  }
  // Node n > 0 is reached by edge n - 1, from parent[n - 1].
  const parent = new Int32Array(total);
  const label = new Uint16Array(total);
  const own = new Int32Array(total + 1);
  const depthAt = new Int32Array(total + 1);
  const path = new Int32Array(maxForm + 1);
  let count = 1;
  let prev = "";
  for (const f of sorted) {
    let common = 0;
    while (common < f.length && common < prev.length && f.charCodeAt(common) === prev.charCodeAt(common))
      common++;
    for (let d = common; d < f.length; d++) {
      const node = count++;
      parent[node - 1] = path[d]!;
      label[node - 1] = f.charCodeAt(d);
      depthAt[node] = d + 1;
      path[d + 1] = node;
    }
    own[path[f.length]!] = f.length;
    prev = f;
  }
  const edges = count - 1;
  // Edges grouped by parent (a stable counting sort keeps each group in character order).
  const first = new Int32Array(count + 1);
  for (let e = 0; e < edges; e++) first[parent[e]! + 1]!++;
  for (let n = 0; n < count; n++) first[n + 1]! += first[n]!;
  const labels = new Uint16Array(edges);
  const target = new Int32Array(edges);
  const fill = first.slice(0, count);
  for (let e = 0; e < edges; e++) {
    const at = fill[parent[e]!]!++;
    labels[at] = label[e]!;
    target[at] = e + 1;
  }
  const rootAscii = new Int32Array(128).fill(-1);
  for (let e = first[0]!; e < first[1]!; e++) if (labels[e]! < 128) rootAscii[labels[e]!] = target[e]!;
  const trie = { first, labels, target, rootAscii };

  // `longest[n]`: the longest form ending at n, its own or via failure links. Every shorter form ending at
  // the same place lies inside that one, so it is the only one a mask needs.
  const fail = new Int32Array(count);
  const longest = new Int32Array(count);
  const queue = new Int32Array(count);
  let tail = 0;
  for (let e = first[0]!; e < first[1]!; e++) queue[tail++] = target[e]!;
  for (let head = 0; head < tail; head++) {
    const u = queue[head]!;
    longest[u] = Math.max(own[u]!, longest[fail[u]!]!);
    for (let e = first[u]!; e < first[u + 1]!; e++) {
      const c = labels[e]!;
      let f = fail[u]!;
      let t = childOf(trie, f, c);
      while (t < 0 && f !== 0) {
        f = fail[f]!;
        t = childOf(trie, f, c);
      }
      fail[target[e]!] = Math.max(t, 0);
      queue[tail++] = target[e]!;
    }
  }
  return { ...trie, fail, longest, depth: depthAt.slice(0, count), maxForm };
}

type Trie = { first: Int32Array; labels: Uint16Array; target: Int32Array; rootAscii: Int32Array };

/** The child of `node` by character `c`, or -1. */
function childOf(t: Trie, node: number, c: number): number {
  if (node === 0 && c < 128) return t.rootAscii[c]!;
  let lo = t.first[node]!;
  let hi = t.first[node + 1]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const l = t.labels[mid]!;
    if (l === c) return t.target[mid]!;
    if (l < c) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function buildAutomaton(forms: string[]): Automaton {
  const { first, labels, target, rootAscii, fail, longest, depth, maxForm } = buildTrie(forms);
  // The scan's own copy of the look-up, over locals: the hot path reads no object fields.
  const child = (node: number, c: number): number => {
    if (node === 0 && c < 128) return rootAscii[c]!;
    let lo = first[node]!;
    let hi = first[node + 1]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const l = labels[mid]!;
      if (l === c) return target[mid]!;
      if (l < c) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };

  const step = (s: number, c: number): number => {
    for (;;) {
      const t = child(s, c);
      if (t >= 0) return t;
      if (s === 0) return 0;
      s = fail[s]!;
    }
  };

  return {
    spans(text) {
      const spans: number[] = [];
      let s = 0;
      for (let i = 0; i < text.length; i++) {
        s = step(s, text.charCodeAt(i));
        const len = longest[s]!;
        if (len === 0) continue;
        let start = i + 1 - len;
        // Ends only grow: a new match merges with the spans it reaches back to (overlapping or touching).
        while (spans.length > 0 && start <= spans[spans.length - 1]!) {
          spans.pop();
          start = Math.min(start, spans.pop()!);
        }
        spans.push(start, i + 1);
      }
      return spans;
    },
    pendingAt(text) {
      // Only the last maxForm - 1 units can hold the start of a form that the text does not finish.
      let s = 0;
      for (let i = Math.max(0, text.length - maxForm); i < text.length; i++) s = step(s, text.charCodeAt(i));
      return depth[s]!;
    },
  };
}
