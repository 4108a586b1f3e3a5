import { describe, expect, test } from "bun:test";
import { truncateLine } from "../../src/core/line.ts";
import { createMasker, createStreamMasker, MASK, NO_MASK } from "../../src/core/mask.ts";
import { base64Forms, secretForms, secretProblem, secretUnits } from "../../src/core/mask-forms.ts";

/** A seeded generator, so a failing random case is the same case on the next run. */
function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s = (s ^ (s >>> 13)) >>> 0;
    return s / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = (alphabet: string) => alphabet[int(alphabet.length)]!;
  const text = (n: number, alphabet: string) => Array.from({ length: n }, () => pick(alphabet)).join("");
  return { next, int, text };
}

const TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** The masking the automaton must equal: every occurrence of every form, found one by one, spans merged. */
function naiveMask(forms: string[], text: string): string {
  const spans: Array<[number, number]> = [];
  for (const f of forms) {
    for (let at = text.indexOf(f); at !== -1; at = text.indexOf(f, at + 1)) spans.push([at, at + f.length]);
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: Array<[number, number]> = [];
  for (const [a, b] of spans) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  let out = "";
  let at = 0;
  for (const [a, b] of merged) {
    out += text.slice(at, a) + MASK;
    at = b;
  }
  return out + text.slice(at);
}

describe("secret registration", () => {
  test("a value shorter than 4 characters is refused with a message that does not quote it", () => {
    expect(secretProblem("abc")).toBe(
      "a secret must be at least 4 characters long, not counting leading and trailing whitespace (got 3): " +
        "a shorter value would mask ordinary text",
    );
    expect(secretProblem("")).toContain("(got 0)");
    expect(secretProblem("abcd")).toBeNull();
  });

  test("surrounding whitespace does not count towards the 4 characters", () => {
    expect(secretProblem("  ab \n")).toContain("(got 2)");
    expect(secretProblem("    ")).toContain("(got 0)");
    expect(secretProblem(" ab cd ")).toBeNull();
  });

  test("characters are counted as code points, not UTF-16 units or bytes", () => {
    expect(secretProblem("🔑🔑🔑")).toContain("(got 3)");
    expect(secretProblem("🔑🔑🔑🔑")).toBeNull();
    expect(secretProblem("ключ")).toBeNull();
  });

  test("a value larger than 16 KiB is refused: its masker would hold ~16 automaton states per byte", () => {
    expect(secretProblem("k".repeat(16 * 1024))).toBeNull();
    expect(secretProblem("é".repeat(8 * 1024 + 1))).toBe(
      "a secret may be at most 16384 bytes of UTF-8 (got 16386)",
    );
  });

  test("building a masker with a refused value fails naming its position, never the value", () => {
    expect(() => createMasker(["long-enough-1", "xyz"])).toThrow(
      new RangeError(
        "secret 2 of 2: a secret must be at least 4 characters long, not counting leading and trailing " +
          "whitespace (got 3): a shorter value would mask ordinary text",
      ),
    );
  });

  test("a multi-line value is masked whole and line by line; short lines are named, indentation is not secret", () => {
    expect(secretUnits("  first-line\n  ab\n\n  third line  \n")).toEqual({
      whole: ["  first-line\n  ab\n\n  third line  \n", "first-line\n  ab\n\n  third line"],
      lines: ["first-line", "third line"],
      shortLines: [2],
    });
  });
});

describe("masking a line", () => {
  const secret = "s3cr3t-T0ken_value";
  const m = createMasker([secret]);

  test("a value is masked wherever it sits: inside, at the start, at the end, as the whole line", () => {
    expect([
      m.mask(`token=${secret} ok`),
      m.mask(`${secret} at start`),
      m.mask(`at end ${secret}`),
      m.mask(secret),
      m.mask(`${secret}${secret}`),
    ]).toEqual(["token=*** ok", "*** at start", "at end ***", "***", "***"]);
  });

  test("a line without any value is returned as the same string", () => {
    const line = `{"level":"info","msg":"nothing to see","s3cr3t-T0ken":false}`;
    expect(m.mask(line)).toBe(line);
    expect(m.mask("")).toBe("");
    expect(m.mask("abc")).toBe("abc");
  });

  test("a masker without values masks nothing", () => {
    expect(createMasker([])).toBe(NO_MASK);
    expect(NO_MASK.mask(secret)).toBe(secret);
  });

  test("a value followed by more of what looks like it is still masked (its end is not a boundary)", () => {
    expect(m.mask(`${secret}XYZ`)).toBe("***XYZ");
    expect(m.mask(`${secret.slice(0, -1)} is not it`)).toBe(`${secret.slice(0, -1)} is not it`);
  });
});

describe("encodings of a value", () => {
  test("base64 in each of the three alignments inside a longer base64 run: only the stable inner part", () => {
    const secret = "correct-horse-battery-staple"; // 28 bytes
    const m = createMasker([secret]);
    const n = Buffer.byteLength(secret);
    for (const prefixLength of [0, 1, 2, 3, 4, 5]) {
      // 0xff around the value: no bit pattern of the neighbours can complete a form by chance.
      const bytes = Buffer.concat([
        Buffer.alloc(prefixLength, 0xff),
        Buffer.from(secret),
        Buffer.alloc(4, 0xff),
      ]);
      for (const encoded of [bytes.toString("base64"), bytes.toString("base64url")]) {
        const from = Math.ceil((8 * prefixLength) / 6);
        const to = Math.floor((8 * (prefixLength + n)) / 6);
        expect({ prefixLength, masked: m.mask(`data: ${encoded}`) }).toEqual({
          prefixLength,
          masked: `data: ${encoded.slice(0, from)}${MASK}${encoded.slice(to)}`,
        });
        // What is left next to the mask is at most one character on each side.
        expect(from - Math.floor((8 * prefixLength) / 6)).toBeLessThanOrEqual(1);
      }
    }
  });

  test("base64 of the value alone is masked whole, padding included", () => {
    for (const secret of ["abcd", "abcde", "abcdef"]) {
      const m = createMasker([secret]);
      const b64 = Buffer.from(secret).toString("base64");
      expect([m.mask(b64), m.mask(`Authorization: Basic ${b64}`)]).toEqual([
        MASK,
        `Authorization: Basic ${MASK}`,
      ]);
    }
  });

  test("the stable inner runs are the characters that depend only on the value's bits", () => {
    // "abcd" = 61 62 63 64. At offset 0: YWJjZ|A==; at 1: AG|FiY2Q=; at 2: AAB|hYmNk.
    expect(base64Forms("abcd").slice(0, 5)).toEqual(["YWJjZA==", "YWJjZA", "YWJjZ", "FiY2", "hYmNk"]);
  });

  test("URL-encoded: encodeURIComponent, spaces as +, form encoding, lower-case hex", () => {
    const secret = "p@ss w0rd/+&=?!(x)";
    const m = createMasker([secret]);
    const form = new URLSearchParams({ t: secret }).toString().slice(2);
    const url = encodeURIComponent(secret);
    expect([
      m.mask(`GET /cb?t=${url}&x=1`),
      m.mask(`body t=${url.replaceAll("%20", "+")}&x=1`),
      m.mask(`body t=${form}&x=1`),
      m.mask(`GET /cb?t=${url.toLowerCase()}&x=1`),
    ]).toEqual(["GET /cb?t=***&x=1", "body t=***&x=1", "body t=***&x=1", "GET /cb?t=***&x=1"]);
  });

  test("JSON-escaped as JSON.stringify writes it, ASCII-only in both hex cases, with escaped slashes and Go's escapes", () => {
    const secret = 'pa"ss\\wörd/<&>';
    const m = createMasker([secret]);
    const std = JSON.stringify({ token: secret });
    const ascii = std.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    const asciiUpper = ascii.replace(/\\u([0-9a-f]{4})/g, (_, h: string) => `\\u${h.toUpperCase()}`);
    const php = std.replaceAll("/", "\\/");
    const go = std.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
    expect([std, ascii, asciiUpper, php, go].map((s) => m.mask(s))).toEqual(
      Array(5).fill(`{"token":"${MASK}"}`),
    );
  });

  test("a multi-line value: each line on its own, and the whole in its encoded forms", () => {
    const key =
      "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n  c2VjcmV0IGxpbmUgdHdv\nab\n-----END KEY-----\n";
    const m = createMasker([key]);
    expect([
      m.mask("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
      m.mask("    c2VjcmV0IGxpbmUgdHdv  "),
      m.mask("ab"),
      m.mask(JSON.stringify({ key })),
      m.mask(`value: ${Buffer.from(key).toString("base64")}`),
    ]).toEqual(["***", "    ***  ", "ab", `{"key":"${MASK}"}`, `value: ${MASK}`]);
  });

  test("a unicode value is masked raw, JSON-escaped, URL-encoded and in base64", () => {
    const secret = "pässwörd-ключ-🔑";
    const m = createMasker([secret]);
    const ascii = JSON.stringify(secret).replace(
      /[^\x00-\x7f]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
    expect([
      m.mask(`x ${secret} y`),
      m.mask(`x ${ascii} y`),
      m.mask(`x ${encodeURIComponent(secret)} y`),
      m.mask(`x ${Buffer.from(secret).toString("base64")} y`),
    ]).toEqual(["x *** y", 'x "***" y', "x *** y", "x *** y"]);
  });
});

describe("overlapping values", () => {
  test("two values that overlap are masked as one span covering both", () => {
    const m = createMasker(["abcdef", "defghi"]);
    expect(m.mask("x abcdefghi y")).toBe("x *** y");
  });

  test("a value inside another is masked with the longer one", () => {
    const m = createMasker(["inner", "outer-inner-outer"]);
    expect([m.mask("[outer-inner-outer]"), m.mask("[inner]")]).toEqual(["[***]", "[***]"]);
  });

  test("values that touch are one span; values with a character between stay two", () => {
    const m = createMasker(["abcd", "efgh"]);
    expect([m.mask("abcdefgh"), m.mask("abcd-efgh")]).toEqual(["***", "***-***"]);
  });

  test("a value that is a prefix of another: the longer one wins where it occurs", () => {
    const m = createMasker(["token", "token-suffix"]);
    expect([m.mask("token-suffix!"), m.mask("token-suf")]).toEqual(["***!", "***-suf"]);
  });

  test("a value that ends inside the start of a longer one is found though the longer one does not match", () => {
    const m = createMasker(["xabcdyyyy", "abcd"]);
    expect(m.mask("xabcdz")).toBe("x***z");
  });

  test("values over a tiny alphabet, where every kind of overlap happens: the same as searching each alone", () => {
    const r = prng(29);
    for (let round = 0; round < 50; round++) {
      const values = Array.from({ length: 1 + r.int(12) }, () => r.text(4 + r.int(7), "abc"));
      const forms = [...new Set(values.flatMap(secretForms))];
      const m = createMasker(values);
      for (let i = 0; i < 40; i++) {
        const text = r.text(r.int(80), "abc");
        const want = naiveMask(forms, text);
        const got = m.mask(text);
        if (got !== want) expect({ values, text, got }).toEqual({ values, text, got: want });
      }
    }
  });

  test("repetitive text against a repetitive value (the worst case for a naive search)", () => {
    const m = createMasker(["aaaaaaab"]);
    const text = `${"a".repeat(10_000)}b${"a".repeat(7)}`;
    expect(m.mask(text)).toBe(`${"a".repeat(9_993)}***${"a".repeat(7)}`);
  });
});

describe("many values", () => {
  test("100 values of 20–64 characters in random lines: the same result as searching each form alone", () => {
    const r = prng(17);
    const values = Array.from({ length: 100 }, (_, i) => r.text(20 + (i % 45), TOKEN_CHARS));
    const forms = [...new Set(values.flatMap(secretForms))];
    const m = createMasker(values);
    let masked = 0;
    for (let i = 0; i < 2000; i++) {
      // Noise, pieces of forms and whole forms, so partial matches, overlaps and neighbours all occur.
      let text = "";
      for (let k = r.int(6); k >= 0; k--) {
        const f = forms[r.int(forms.length)]!;
        const pick = r.int(4);
        text +=
          pick === 0
            ? f
            : pick === 1
              ? f.slice(r.int(f.length))
              : pick === 2
                ? f.slice(0, r.int(f.length))
                : r.text(r.int(30), `${TOKEN_CHARS} "=:/+`);
      }
      const got = m.mask(text);
      if (got !== text) masked++;
      const want = naiveMask(forms, text);
      if (got !== want) expect({ text, got }).toEqual({ text, got: want });
    }
    expect(masked).toBeGreaterThan(500);
  });

  test("every one of 100 values in one line is masked", () => {
    const r = prng(3);
    const values = Array.from({ length: 100 }, () => r.text(32, TOKEN_CHARS));
    const m = createMasker(values);
    expect(m.mask(values.join(" | "))).toBe(Array(100).fill(MASK).join(" | "));
  });

  test("a 1 MiB line with values at its start, middle and end", () => {
    const r = prng(5);
    const values = Array.from({ length: 100 }, () => r.text(40, TOKEN_CHARS));
    const m = createMasker(values);
    const filler = r.text(512 * 1024, `${TOKEN_CHARS} `);
    const line = `${values[0]}${filler}${values[1]}${filler}${values[2]}`;
    expect(line.length).toBeGreaterThan(1024 * 1024);
    expect(m.mask(line)).toBe(`${MASK}${filler}${MASK}${filler}${MASK}`);
  });
});

describe("masking and truncation", () => {
  test("masked before truncation, a value cut by max_line_bytes leaves no prefix; the other order would", () => {
    const secret = "0123456789-secret-value-ABCDEFGHIJ";
    const m = createMasker([secret]);
    const line = `${"x".repeat(90)}${secret}${"y".repeat(50)}`;
    // The limit falls inside the value: 90 bytes of x, then 10 of it.
    expect(truncateLine(m.mask(line), 100).line).toBe(
      `${"x".repeat(90)}***${"y".repeat(7)}…[truncated 43 bytes]`,
    );
    expect(m.mask(truncateLine(line, 100).line)).toContain(secret.slice(0, 10));
  });
});

describe("cutting text that is still arriving", () => {
  const m = createMasker(["abcd-efgh-ijkl"]);

  test("the start of a value at the end of the text is not cut", () => {
    expect([m.safeCut("hello abcd-e"), m.safeCut("hello a"), m.safeCut("hello x")]).toEqual([6, 6, 7]);
  });

  test("a cut that would go through a match moves to its start", () => {
    expect(m.safeCut("xx abcd-efgh-ijkl yy", 8)).toBe(3);
    expect(m.safeCut("xx abcd-efgh-ijkl yy", 2)).toBe(2);
  });

  test("a value split between two pieces of a stream is masked, at every split point", () => {
    const value = "abcd-efgh-ijkl";
    for (let k = 0; k <= value.length; k++) {
      const s = createStreamMasker(m);
      const out = s.push(`one ${value.slice(0, k)}`) + s.push(`${value.slice(k)} two`) + s.flush();
      expect({ k, out }).toEqual({ k, out: "one *** two" });
    }
  });

  test("a stream masker lets text go at once when it cannot be the start of a value", () => {
    const s = createStreamMasker(m);
    expect([s.push("plain text "), s.holding, s.push("then ab"), s.holding, s.flush()]).toEqual([
      "plain text ",
      false,
      "then ",
      true,
      "ab",
    ]);
  });

  test("a shorter value that ends where a longer one could go on is held until the text decides", () => {
    const two = createMasker(["token", "token-suffix"]);
    const s = createStreamMasker(two);
    expect(s.push("a token") + s.push("-suffix!") + s.flush()).toBe("a ***!");
  });
});
