import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../src/errors.ts";
import { maskerFrom } from "../../src/shipper/mask-source.ts";
import { tempDir } from "../support/server.ts";

/** The masker's effect on `text`, and the warnings given while building it. */
function build(flags: Parameters<typeof maskerFrom>[0], env: Record<string, string> = {}) {
  const warnings: string[] = [];
  const masker = maskerFrom(flags, (m) => warnings.push(m), env);
  return { masker, warnings };
}

describe("secrets to mask at the source", () => {
  test("no flag, no masker", () => {
    expect(build({})).toEqual({ masker: undefined, warnings: [] });
  });

  test("--mask-env takes names, comma-separated or repeated", () => {
    const env = { A: "value-of-a", B: "value-of-b", C: "value-of-c" };
    const { masker, warnings } = build({ "mask-env": ["A,B", "C"] }, env);
    expect([masker?.values, masker?.mask("value-of-a value-of-b value-of-c"), warnings]).toEqual([
      3,
      "*** *** ***",
      [],
    ]);
  });

  test("an unset or empty variable is a warning, not an error: there is nothing to mask", () => {
    const { masker, warnings } = build({ "mask-env": ["MISSING,EMPTY"] }, { EMPTY: "  " });
    expect([masker?.values, warnings]).toEqual([
      0,
      ["--mask-env MISSING: not set, nothing to mask", "--mask-env EMPTY: empty, nothing to mask"],
    ]);
  });

  test("a value shorter than 4 characters is refused, naming the variable and not the value", () => {
    const run = () => build({ "mask-env": ["PIN"] }, { PIN: "123" });
    expect(run).toThrow(UsageError);
    expect(run).toThrow(
      "--mask-env PIN: a secret must be at least 4 characters long, not counting leading and trailing " +
        "whitespace (got 3): a shorter value would mask ordinary text",
    );
  });

  test("a name that is not a variable name is refused", () => {
    expect(() => build({ "mask-env": ["$TOKEN"] })).toThrow(
      '--mask-env: "$TOKEN" is not an environment variable name',
    );
  });

  test("--mask-file: the whole file is one value, and each of its lines is masked on its own", () => {
    using dir = tempDir();
    const file = join(dir.path, "key.pem");
    writeFileSync(file, "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nab\n-----END KEY-----\n");
    const { masker, warnings } = build({ "mask-file": [file] });
    expect([
      masker?.mask("MIIEvQIBADANBgkqhkiG9w0B"),
      masker?.mask(JSON.stringify("-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nab\n-----END KEY-----\n")),
      masker?.mask("ab"),
      warnings,
    ]).toEqual([
      "***",
      '"***"',
      "ab",
      [`--mask-file ${file}: line 3 shorter than 4 characters: masked only as part of the whole file`],
    ]);
  });

  test("a token file with its trailing newline masks the token", () => {
    using dir = tempDir();
    const file = join(dir.path, "token");
    writeFileSync(file, "ghp_abcdefghijklmnop\n");
    expect(build({ "mask-file": [file] }).masker?.mask("token ghp_abcdefghijklmnop used")).toBe(
      "token *** used",
    );
  });

  test("a file that cannot be read is refused, naming it", () => {
    expect(() => build({ "mask-file": ["/nonexistent/secret"] })).toThrow(
      /^--mask-file \/nonexistent\/secret: cannot read it: ENOENT/,
    );
  });
});
