// The Prometheus text exposition format 0.0.4: HELP/TYPE lines, escaped label values, numbers as Go parses them.

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface Sample {
  /** "" for the metric itself; `_bucket`, `_sum`, `_count` for a histogram's series. */
  suffix: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: readonly Sample[];
}

/** HELP text: backslash and newline are escaped (a double quote is not, unlike in label values). */
export const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

export const escapeLabelValue = (s: string) =>
  s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** `+Inf`, `-Inf`, `NaN` as the format spells them; other numbers in JavaScript's shortest round-trip form. */
export function formatValue(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(",")}}`;
}

export function writeFamilies(families: readonly Family[]): string {
  let out = "";
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples)
      out += `${f.name}${s.suffix}${formatLabels(s.labels)} ${formatValue(s.value)}\n`;
  }
  return out;
}
