// Read baseline: a bare streamed scan of a JSONL file for one step (substring pre-check, confirmed by parsing).
// No line numbers, no cursors, no HTTP. argv: path step. Prints JSON {ms, bytes, lines, matched, rss}.
const [path, step] = process.argv.slice(2);
const needle = `"step":${JSON.stringify(step)}`;
const t0 = performance.now();
const decoder = new TextDecoder();
let rest = "";
let bytes = 0;
let matched = 0;
let out = 0;
for await (const chunk of Bun.file(path!).stream()) {
  bytes += chunk.length;
  const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
  rest = parts.pop()!;
  const selected: string[] = [];
  for (const text of parts) {
    if (!text.includes(needle)) continue;
    if ((JSON.parse(text) as { step?: string }).step !== step) continue;
    selected.push(text);
  }
  if (selected.length > 0) {
    matched += selected.length;
    out += Buffer.byteLength(`${selected.join("\n")}\n`);
  }
}
const ms = performance.now() - t0;
const rss = Number(/^VmHWM:\s+(\d+) kB/m.exec(await Bun.file("/proc/self/status").text())?.[1] ?? 0) * 1024;
console.log(JSON.stringify({ ms, bytes, matched, out, rss }));

export {};
