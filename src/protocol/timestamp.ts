// Timestamps on the wire: which ISO 8601 forms a line may carry, and the RFC 3339 UTC form it is stored in.
import * as v from "valibot";

/** RFC 3339 in UTC as workers send it: `Z`, whole seconds, any number of fraction digits (Strøm's: 0, 3, 6 or 9). */
const UTC_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;
const ISO_8601 =
  /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * ISO 8601 → RFC 3339 in UTC with every fraction digit the sender gave; null when it is not an ISO 8601 instant.
 * A valid `…Z` timestamp comes back byte for byte (Strøm stores what the worker sent: nanoseconds on Linux, and
 * lines within one millisecond keep their order information); any other form is converted to that one.
 */
export function normalizeTs(ts: string): string | null {
  // Lines of one batch share their second: its checks are made once (a fifth of a push body's decode).
  if (keptSecond !== "" && ts.startsWith(keptSecond) && fractionAndZ(ts)) return ts;
  if (UTC_TS.test(ts)) {
    // Only reject impossible dates (month 13, hour 25).
    if (!canonicalInRange(ts)) return null;
    // A day past 28 or 24:00 may name another day than it says (Feb 30 is Mar 2, 24:00 the next midnight):
    // store the instant it means, as every other form of the same instant is stored.
    if (twoDigits(ts, 8) <= 28 && twoDigits(ts, 11) < 24) {
      keptSecond = ts.slice(0, 19);
      return ts;
    }
  }
  const m = ISO_8601.exec(ts);
  if (m === null) return null;
  const hm = m[2]!;
  const frac = m[4] ?? "";
  // Date.parse decides what is an instant and finds it to the millisecond; the digits past it are copied over,
  // which is exact because offsets are whole minutes. 24:00 is an instant only with a zero fraction.
  const ms = Date.parse(`${m[1]}T${hm}:${m[3] ?? "00"}.${frac.slice(0, 3).padEnd(3, "0")}${m[5]}`);
  if (Number.isNaN(ms) || (hm.startsWith("24") && /[1-9]/.test(frac))) return null;
  return `${new Date(ms).toISOString().slice(0, -5)}${frac === "" ? "" : `.${frac}`}Z`;
}

/**
 * `YYYY-MM-DDTHH:MM:SS` of the last timestamp `normalizeTs` kept as it was: every `…Z` form of that second is
 * kept as it is too (what decides is in those 19 characters; the rest only has to be `Z` or `.digits Z`).
 */
let keptSecond = "";

/** Whether `ts` from its 20th character on is `Z` or `.` digits `Z` (the regex's tail, without the regex). */
function fractionAndZ(ts: string): boolean {
  const n = ts.length;
  if (n < 20 || ts.charCodeAt(n - 1) !== 90 /* Z */) return false;
  if (n === 20) return true;
  if (n === 21 || ts.charCodeAt(19) !== 46 /* . */) return false;
  for (let i = 20; i < n - 1; i++) {
    const c = ts.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const twoDigits = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/**
 * Whether a `…Z` timestamp names an instant, deciding as JSC's `Date.parse` does (any day up to 31 in any month,
 * 24:00:00 as the end of a day) without its cost (~10% of the ingest path's CPU when every line carries a
 * timestamp) — except that 24:00 with a non-zero digit past the millisecond is refused, where Date.parse ignores
 * those digits. `test/logs/canonical-ts.test.ts` checks the two agree.
 */
export function canonicalInRange(ts: string): boolean {
  const month = twoDigits(ts, 5);
  const day = twoDigits(ts, 8);
  const hour = twoDigits(ts, 11);
  const minute = twoDigits(ts, 14);
  const second = twoDigits(ts, 17);
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  if (hour === 24) return minute === 0 && second === 0 && !/[1-9]/.test(ts.slice(19));
  return hour < 24 && minute < 60 && second < 60;
}

/** A timestamp field of a request body, normalised as `normalizeTs` does; its error names what it got. */
export const Timestamp = v.pipe(
  v.string("expected an ISO 8601 timestamp string"),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const ts = normalizeTs(dataset.value);
    if (ts === null) {
      addIssue({
        message: `expected an ISO 8601 timestamp (got ${JSON.stringify(dataset.value.slice(0, 64))})`,
      });
      return NEVER;
    }
    return ts;
  }),
);

/**
 * A stored (`…Z`) timestamp as a string that sorts as the instant does: the seconds, then the fraction without
 * its trailing zeros (`.5` and `.500000000` are one instant; `45Z` sorts before `45.1Z`, as a plain string
 * comparison would not). Null for anything that is not the stored form.
 */
export function tsKey(ts: string): string | null {
  if (ts.length < 20 || ts.charCodeAt(ts.length - 1) !== 90 /* Z */ || ts.charCodeAt(10) !== 84 /* T */)
    return null;
  const frac = ts.length > 20 ? ts.slice(20, -1) : "";
  return ts.slice(0, 19) + frac.replace(/0+$/, "");
}
