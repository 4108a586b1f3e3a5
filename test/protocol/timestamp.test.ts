// The canonical-timestamp range check decides exactly as Date.parse does, over every field's edge values.
import { describe, expect, test } from "bun:test";
import { canonicalInRange, normalizeTs } from "../../src/protocol/timestamp.ts";

const p2 = (n: number) => String(n).padStart(2, "0");

function disagreements(stamps: Iterable<string>): string[] {
  const out: string[] = [];
  for (const s of stamps) if (canonicalInRange(s) === Number.isNaN(Date.parse(s))) out.push(s);
  return out;
}

function* dates(): Generator<string> {
  for (const y of ["0000", "1900", "1970", "2000", "2024", "2025", "9999"])
    for (let mo = 0; mo < 100; mo++)
      for (let da = 0; da < 100; da++)
        for (const t of ["00:00:00.000", "24:00:00.000", "23:59:59.999"])
          yield `${y}-${p2(mo)}-${p2(da)}T${t}Z`;
}

function* times(): Generator<string> {
  for (let h = 0; h < 100; h++)
    for (let mi = 0; mi < 100; mi++)
      for (let se = 0; se < 100; se++)
        for (const ms of ["000", "001", "999"]) yield `2025-02-12T${p2(h)}:${p2(mi)}:${p2(se)}.${ms}Z`;
}

describe("canonical timestamps", () => {
  test("every year, month and day combination is accepted or refused exactly as Date.parse does", () => {
    expect(disagreements(dates())).toEqual([]);
  });

  test("every hour, minute, second and millisecond combination is accepted or refused exactly as Date.parse does", () => {
    expect(disagreements(times())).toEqual([]);
  });

  test("with a fraction of any length, each hour, minute and second is accepted or refused as Date.parse does, and 24:00 only with a zero fraction", () => {
    // Date.parse reads the first three fraction digits and ignores the rest, so it takes 24:00:00.0000001 for
    // midnight; a timestamp past the end of a day names no instant and is refused.
    const expected = (s: string) => {
      const [, hms, frac = ""] = /T(\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(s)!;
      const ms = Date.parse(`${s.slice(0, 11)}${hms}.${frac.slice(0, 3).padEnd(3, "0")}Z`);
      return !Number.isNaN(ms) && !(hms!.startsWith("24") && /[1-9]/.test(frac));
    };
    const fractions = ["", ".0", ".5", ".000000", ".000001", ".000000000", ".000000001", ".0000000000001"];
    const wrong: string[] = [];
    for (const h of ["00", "23", "24", "25"])
      for (const mi of ["00", "59", "60"])
        for (const se of ["00", "59", "60"])
          for (const f of fractions) {
            const s = `2025-02-12T${h}:${mi}:${se}${f}Z`;
            if (canonicalInRange(s) !== expected(s)) wrong.push(s);
          }
    expect(wrong).toEqual([]);
  });

  test("normalizeTs answers every timestamp the same whatever it was asked before (it keeps the checks of the last second it kept)", () => {
    const seconds = [
      "2025-02-12T10:56:45",
      "2025-02-30T00:00:00",
      "2025-01-01T24:00:00",
      "2025-13-01T00:00:00",
    ];
    const tails = ["Z", ".Z", ".5Z", ".123456789Z", ".1a2Z", "", ".5", "Zx", "z", "+01:00", ".5+01:00", " Z"];
    const stamps = [
      ...seconds.flatMap((s) => tails.map((t) => s + t)),
      "2025-02-12T10:56:4",
      "2025-02-12 10:56:45Z",
    ];
    const unrelated = "1999-01-01T00:00:00Z";
    const alone = (ts: string) => {
      normalizeTs(unrelated);
      return normalizeTs(ts);
    };
    const expected = new Map(stamps.map((ts) => [ts, alone(ts)]));
    const wrong: string[] = [];
    for (const before of stamps)
      for (const ts of stamps) {
        normalizeTs(before);
        const got = normalizeTs(ts);
        if (got !== expected.get(ts)) wrong.push(`${ts} after ${before}: ${got}, alone ${expected.get(ts)}`);
      }
    expect(wrong).toEqual([]);
    expect(expected.get("2025-02-12T10:56:45.123456789Z")).toBe("2025-02-12T10:56:45.123456789Z");
    expect(expected.get("2025-02-12T10:56:45.1a2Z")).toBeNull();
  });

  test("normalizeTs keeps a canonical timestamp as it is, stores the instant an overflowing one means, and refuses an impossible one", () => {
    expect(
      [
        "2025-02-12T10:56:45.123Z",
        "2025-02-30T00:00:00.000Z",
        "2025-01-01T24:00:00.000Z",
        "2025-13-01T00:00:00.000Z",
        "2025-01-01T24:00:00.001Z",
      ].map(normalizeTs),
    ).toEqual([
      "2025-02-12T10:56:45.123Z",
      "2025-03-02T00:00:00.000Z",
      "2025-01-02T00:00:00.000Z",
      null,
      null,
    ]);
  });
});
