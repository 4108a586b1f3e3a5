// Ingest baseline, the work no server can avoid: the push bodies the clients send, as bytes, each decoded and
// JSON.parsed, its lines encoded as the server stores them (encodeLine) and appended 1,000 lines a write.
// No HTTP, validation, idempotency, database or live fan-out. argv: path lines batchLines. Prints JSON {lines, ms, cpuMs}.
import { encodeLine } from "../../src/core/line.ts";
import type { Stream } from "../../src/protocol/line.ts";
import { pushBody } from "./lines.ts";

const [path, linesArg, batchArg] = process.argv.slice(2);
const total = Number(linesArg);
const batch = Number(batchArg ?? 500);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bodies = Array.from({ length: 32 }, (_, k) => encoder.encode(pushBody(k * batch, batch)));
const writer = Bun.file(path!).writer();

let text = "";
let pending = 0;
async function push(k: number): Promise<void> {
  const body = JSON.parse(decoder.decode(bodies[k % bodies.length]!)) as {
    step_name: string;
    lines: { ts: string; stream: Stream; line: string }[];
  };
  const stepJson = JSON.stringify(body.step_name);
  for (const l of body.lines) text += encodeLine(l.ts, l.stream, stepJson, l.line);
  pending += body.lines.length;
  if (pending >= 1000) {
    writer.write(text);
    await writer.flush(); // each write reaches the OS before the next, as an acknowledged push does
    text = "";
    pending = 0;
  }
}
for (let k = 0; k < 128; k++) await push(k); // warm-up: JIT-compiled code on both sides
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let n = 0, k = 0; n < total; n += batch, k++) await push(k);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
await writer.end();
console.log(JSON.stringify({ lines: total, ms, cpuMs: (cpu.user + cpu.system) / 1000 }));
