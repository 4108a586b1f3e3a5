// A small dependency-free SVG line chart for the bench curves: axes (linear or log), ticks, a legend, dashed baselines.

export interface Series {
  name: string;
  points: [number, number][];
  /** A same-run baseline: drawn dashed. */
  dashed?: boolean;
}

export interface Chart {
  title: string;
  /** One line under the title: the run (date, machine, load). */
  subtitle?: string;
  x: { label: string; log?: boolean };
  y: { label: string; log?: boolean };
  series: Series[];
}

const W = 720;
const H = 420;
const M = { left: 78, right: 190, top: 56, bottom: 56 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"];

const esc = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** A compact tick label: 1k, 2.5M, 0.01. */
export function short(n: number): string {
  const a = Math.abs(n);
  const trim = (x: number) => String(Number(x.toPrecision(3)));
  if (a >= 1e9) return `${trim(n / 1e9)}G`;
  if (a >= 1e6) return `${trim(n / 1e6)}M`;
  if (a >= 1e3) return `${trim(n / 1e3)}k`;
  return trim(n);
}

interface Axis {
  map: (v: number) => number;
  ticks: number[];
}

/** Ticks and a mapping of [lo, hi] onto [a, b] pixels. */
export function axis(values: number[], log: boolean, a: number, b: number): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (!Number.isFinite(lo)) [lo, hi] = [log ? 1 : 0, 1];
  if (log) {
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi));
    if (lo === hi) hi = lo * 10;
    const decades = Math.log10(hi / lo);
    const ticks: number[] = [];
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      ticks.push(d);
      if (decades <= 3 && d < hi) ticks.push(d * 2, d * 5);
    }
    const span = Math.log10(hi) - Math.log10(lo);
    return { map: (v) => a + ((Math.log10(v) - Math.log10(lo)) / span) * (b - a), ticks };
  }
  lo = Math.min(0, lo);
  if (hi === lo) hi = lo + 1;
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw)!;
  hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 1e6; t += step) ticks.push(Number(t.toPrecision(12)));
  return { map: (v) => a + ((v - lo) / (hi - lo)) * (b - a), ticks };
}

export function lineChart(c: Chart): string {
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = c.series.flatMap((s) => s.points.map((p) => p[1]));
  const x = axis(xs, c.x.log ?? false, M.left, W - M.right);
  const y = axis(ys, c.y.log ?? false, H - M.bottom, M.top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
  ];
  if (c.subtitle) out.push(`<text x="${M.left}" y="40" fill="#555">${esc(c.subtitle)}</text>`);
  for (const t of x.ticks) {
    const px = x.map(t).toFixed(1);
    out.push(
      `<line x1="${px}" y1="${M.top}" x2="${px}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${px}" y="${H - M.bottom + 16}" text-anchor="middle">${short(t)}</text>`,
    );
  }
  for (const t of y.ticks) {
    const py = y.map(t).toFixed(1);
    out.push(
      `<line x1="${M.left}" y1="${py}" x2="${W - M.right}" y2="${py}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${short(t)}</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(c.x.label)}${c.x.log ? " (log)" : ""}</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(c.y.label)}${c.y.log ? " (log)" : ""}</text>`,
  );
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py));
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    const d = pts.map(
      ([px, py], k) => `${k === 0 ? "M" : "L"}${x.map(px).toFixed(1)},${y.map(py).toFixed(1)}`,
    );
    if (d.length > 0)
      out.push(`<path d="${d.join(" ")}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const [px, py] of pts)
      out.push(`<circle cx="${x.map(px).toFixed(1)}" cy="${y.map(py).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = M.top + 8 + i * 20;
    out.push(
      `<line x1="${W - M.right + 14}" y1="${ly}" x2="${W - M.right + 40}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${W - M.right + 46}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
