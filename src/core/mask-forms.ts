// A secret value → the literal strings it may be printed as (raw, base64, URL-, JSON-encoded, per line) — pure.

export const MIN_SECRET_CHARS = 4;
/**
 * A key or a kubeconfig fits. A value's forms add up to ~16 times its size (base64 at three alignments and
 * base64url, URL-encodings, JSON), each character a state of the automaton (~22 bytes).
 */
export const MAX_SECRET_BYTES = 16 * 1024;

const LINE_BREAK = /\r\n|\r|\n/;
const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/**
 * Why `value` cannot be registered as a secret, or null when it can. Never quotes the value: the message
 * may end up in a log. Leading and trailing whitespace do not count: a value of four spaces would mask
 * every indentation of every line.
 */
export function secretProblem(value: string): string | null {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > MAX_SECRET_BYTES) {
    return `a secret may be at most ${MAX_SECRET_BYTES} bytes of UTF-8 (got ${bytes})`;
  }
  const n = codePoints(value.trim());
  if (n < MIN_SECRET_CHARS) {
    return (
      `a secret must be at least ${MIN_SECRET_CHARS} characters long, not counting leading and trailing ` +
      `whitespace (got ${n}): a shorter value would mask ordinary text`
    );
  }
  return null;
}

/**
 * The pieces of a value that are masked on their own. Whole: the value, and the value without its
 * surrounding whitespace (a token read from a file with its newline, then printed alone). Lines: each line
 * of a multi-line value (trimmed: its indentation is not secret) of at least MIN_SECRET_CHARS. A log line
 * never holds a line break, so a multi-line value is only ever seen whole in an encoded form (JSON `\n`,
 * base64); printed as is it arrives one line at a time.
 */
export function secretUnits(value: string): { whole: string[]; lines: string[]; shortLines: number[] } {
  const trimmed = value.trim();
  const whole = trimmed === value ? [value] : [value, trimmed];
  const lines: string[] = [];
  const shortLines: number[] = [];
  if (LINE_BREAK.test(trimmed)) {
    trimmed.split(LINE_BREAK).forEach((raw, i) => {
      const line = raw.trim();
      if (line.length === 0) return;
      if (codePoints(line) >= MIN_SECRET_CHARS) lines.push(line);
      else shortLines.push(i + 1);
    });
  }
  return { whole, lines, shortLines };
}

/**
 * Every literal form of every unit of `value`, without duplicates (the value itself first): the whole value
 * in every encoding; a line of a multi-line value as printed and JSON-escaped (a line encoded on its own is
 * unlikely, and its encodings would multiply the masker's size by the number of lines).
 */
export function secretForms(value: string): string[] {
  const out = new Set<string>();
  const { whole, lines } = secretUnits(value);
  for (const unit of whole) for (const f of unitForms(unit)) out.add(f);
  for (const line of lines) for (const f of jsonForms(line)) out.add(f);
  return [...out];
}

/** The unit as printed and JSON-escaped, as JSON.stringify writes it; with non-ASCII as \uXXXX (Python's
 * json.dumps, Jackson), in either case of hex; with `/` as `\/` (PHP's json_encode); with <, >, & escaped
 * (Go's encoding/json). */
function jsonForms(unit: string): string[] {
  const json = JSON.stringify(unit).slice(1, -1);
  return [
    unit,
    json,
    asciiJson(json, false),
    asciiJson(json, true),
    json.replaceAll("/", "\\/"),
    json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${hex4(c.charCodeAt(0), false)}`),
  ].filter((f) => f.length >= MIN_SECRET_CHARS);
}

function unitForms(unit: string): string[] {
  const url = encodeURIComponent(unit);
  const forms = [
    ...jsonForms(unit),
    // URL-encoded: encodeURIComponent (RFC 3986 escapes in upper case), with spaces as `+` (form bodies),
    // and as application/x-www-form-urlencoded encodes (URLSearchParams: also !'()~); each with lower-case
    // hex as some encoders write it.
    url,
    url.replaceAll("%20", "+"),
    formEncode(unit),
    ...[url, url.replaceAll("%20", "+"), formEncode(unit)].map(lowerHex),
    ...base64Forms(unit),
  ];
  return forms.filter((f) => f.length >= MIN_SECRET_CHARS);
}

const hex4 = (code: number, upper: boolean): string => {
  const h = code.toString(16).padStart(4, "0");
  return upper ? h.toUpperCase() : h;
};

function asciiJson(json: string, upper: boolean): string {
  // Per UTF-16 unit: a character outside the BMP becomes its surrogate pair, as those encoders write it.
  let out = "";
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    out += c < 0x80 ? json[i] : `\\u${hex4(c, upper)}`;
  }
  return out;
}

const formEncode = (s: string): string => new URLSearchParams([["", s]]).toString().slice(1);
const lowerHex = (s: string): string => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());

/**
 * Base64 of the value's UTF-8 bytes wherever it sits inside a larger encoded run. Starting at a byte offset
 * of 0, 1 or 2 (mod 3) shifts its bits by 0, 8 or 16 against the 6-bit characters; the characters whose 6
 * bits all come from the value are the same whatever surrounds it. That stable inner run is kept for each
 * alignment; up to one character at either end (at most 4 bits of the value) can stay visible. The whole
 * encoding of the value alone (padded and not) is kept too, so a value encoded by itself is masked whole.
 * Each also in base64url (`-_` for `+/`: JWTs, URL-safe tokens).
 */
export function base64Forms(unit: string): string[] {
  const bytes = Buffer.from(unit, "utf8");
  const n = bytes.length;
  const whole = bytes.toString("base64");
  const forms = [whole, whole.replace(/=+$/, "")];
  for (const k of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(k), bytes]).toString("base64");
    // Character j covers bits [6j, 6j + 6); the value covers bits [8k, 8(k + n)).
    const from = Math.ceil((8 * k) / 6);
    const to = Math.floor((8 * (k + n)) / 6);
    if (to > from) forms.push(padded.slice(from, to));
  }
  return [...forms, ...forms.map((f) => f.replaceAll("+", "-").replaceAll("/", "_"))];
}
