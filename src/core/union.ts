// The union of two copies of a log by exact line, as Strøm's merge_jsonl_logs takes it (pure).

/** A text's lines as Rust's `str::lines()` gives them (Strøm's reader): exact text, a trailing \r cut, blanks dropped. */
export function textLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l))
    .filter((l) => l !== "");
}

/**
 * The lines of `other` that `ours` lacks, in `other`'s order, each once — what a union of exact lines adds to
 * our log. `ours` is streamed in batches (it may be big) and only `other`'s lines are held. `storedAs` maps a
 * line of `other` to the form our log would hold it in (masked: a line with a secret is never byte-identical
 * to the other copy's), so that a line folded in once is found the next time.
 */
export async function linesMissing(
  other: readonly string[],
  ours: AsyncIterable<string[]>,
  storedAs: (line: string) => string = (line) => line,
): Promise<string[]> {
  // A Map keeps first-insertion order: `other`'s order, duplicates once.
  const wanted = new Map<string, string>();
  for (const line of other) {
    const key = storedAs(line);
    if (!wanted.has(key)) wanted.set(key, line);
  }
  if (wanted.size === 0) return [];
  for await (const batch of ours) {
    for (const line of batch) wanted.delete(line);
    if (wanted.size === 0) return [];
  }
  return [...wanted.values()];
}
