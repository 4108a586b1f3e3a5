import { expect, test } from "bun:test";
import { linesMissing, textLines } from "../../src/core/union.ts";

async function* batches(...b: string[][]) {
  yield* b;
}

test("textLines splits as Rust's str::lines: exact text, a trailing \\r cut, blank lines dropped", () => {
  expect(textLines('{"a":1}\n\n{"b":2}\r\n {"c":3}\n')).toEqual(['{"a":1}', '{"b":2}', ' {"c":3}']);
});

test("linesMissing gives the other copy's lines ours lacks, in its order, each once", async () => {
  const other = ["e1", "x", "e2", "e1", "y"];
  expect(await linesMissing(other, batches(["x", "a"], ["b", "y"]))).toEqual(["e1", "e2"]);
  expect(await linesMissing(other, batches(["e1", "x", "e2", "y"]))).toEqual([]);
  expect(await linesMissing([], batches(["a"]))).toEqual([]);
});

test("linesMissing compares exact text: the same line in another key order or time form is another line", async () => {
  const ours = '{"ts":"2025-02-12T10:56:45Z","stream":"stderr","step":"_server","line":"m"}';
  const theirs = '{"line":"m","step":"_server","stream":"stderr","ts":"2025-02-12T10:56:45+00:00"}';
  expect(await linesMissing([theirs], batches([ours]))).toEqual([theirs]);
});
