// Times as the API and the log show them: RFC 3339 in UTC, milliseconds.

/** Epoch milliseconds as `2025-02-12T10:56:45.123Z`; null stays null. */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
