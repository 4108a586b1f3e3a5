// What a person sees of a stored line: its `line` field, cut out of the JSONL without a full parse.
import { parseLine } from "../core/line.ts";

const KEY = ',"line":"';

/**
 * The `line` text of a stored JSONL line; null when it is not a log-line object. Inside a JSON string every
 * `"` is escaped, so the first `,"line":"` is the key itself; with the contract's key order it is the last
 * field, so the value runs to the closing `"}`. Anything else takes the full parse.
 */
export function lineText(raw: string): string | null {
  const i = raw.indexOf(KEY);
  if (i !== -1 && raw.endsWith('"}')) {
    const value = raw.slice(i + KEY.length, -2);
    if (!value.includes("\\")) return value;
    try {
      return JSON.parse(`"${value}"`) as string;
    } catch {
      // not the contract's shape after all
    }
  }
  return parseLine(raw)?.line ?? null;
}

/** A regular expression's source for a literal text. */
export const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
