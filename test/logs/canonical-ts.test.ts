// The canonical-timestamp range check decides exactly as Date.parse does, over every field's edge values.
import { describe, expect, test } from "bun:test";
import { canonicalInRange, normalizeTs } from "../../src/logs/line.ts";

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
