// Ingest baseline: the same lines, held as the objects a push carries, each encoded with JSON.stringify (keys in
// the stored order) and appended with Bun.file().writer(), 1,000 lines a write. No HTTP, parsing, validation or database.
// argv: path lines. Prints JSON {lines, ms, bytes}.
import { textOf, tsOf } from "./lines.ts";

const [path, linesArg] = process.argv.slice(2);
const total = Number(linesArg);
const batches = Array.from({ length: 32 }, (_, k) =>
  Array.from({ length: 1000 }, (_, i) => ({
    ts: tsOf(k * 1000 + i),
    stream: "stdout" as const,
    line: textOf(k * 1000 + i),
  })),
);
const writer = Bun.file(path!).writer();
let bytes = 0;
function batch(k: number): Promise<number> | number {
  let text = "";
  for (const l of batches[k % batches.length]!)
    text += `${JSON.stringify({ ts: l.ts, stream: l.stream, step: "build", line: l.line })}\n`;
  bytes += text.length; // ASCII: string length is the byte count
  writer.write(text);
  return writer.flush(); // each batch reaches the OS before the next, as an acknowledged push does
}
for (let k = 0; k < 64; k++) await batch(k); // warm-up, so both sides run JIT-compiled code
bytes = 0;
const t0 = performance.now();
for (let n = 0, k = 0; n < total; n += 1000, k++) await batch(k);
const ms = performance.now() - t0;
await writer.end();
console.log(JSON.stringify({ lines: total, ms, bytes }));
