// A stored JSONL line as the page shows it; plain-text lines (a legacy .log) become lines of no step.

export interface ViewLine {
  /** The line's number in the job's log (0-based; shown 1-based). */
  n: number;
  ts: string;
  stream: "stdout" | "stderr";
  step: string;
  text: string;
}

export function toViewLine(n: number, raw: string): ViewLine {
  if (raw.startsWith("{")) {
    try {
      const o = JSON.parse(raw) as Record<string, unknown>;
      if (typeof o.line === "string") {
        return {
          n,
          ts: typeof o.ts === "string" ? o.ts : "",
          stream: o.stream === "stderr" ? "stderr" : "stdout",
          step: typeof o.step === "string" ? o.step : "",
          text: o.line,
        };
      }
    } catch {
      // not JSON: shown as text
    }
  }
  return { n, ts: "", stream: "stdout", step: "", text: raw };
}

/** Lines of a JSONL text (`logs` of a read, a stream frame): complete lines, the trailing newline dropped. */
export function splitJsonl(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export { SERVER_STEP } from "../../protocol/line.ts";
