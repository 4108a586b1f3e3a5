// Test support: scrape GET /metrics of a test server into `name{labels}` → value, checked by promtool.
import { expect } from "bun:test";
import { promtool } from "./promtool.ts";
import type { TestServer } from "./server.ts";

export type Samples = Map<string, number>;

/** `name{labels}` → value, for every sample line of an exposition (labels as the server writes them). */
export function samples(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Scrapes the server; the exposition must pass `promtool check metrics` (no parse error, no lint warning). */
export async function scrape(s: TestServer, token?: string): Promise<Samples> {
  const r = await s.fetch("/metrics", token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(r.status).toBe(200);
  const text = await r.text();
  expect(await promtool(["check", "metrics"], text)).toEqual({ code: 0, stdout: "", stderr: "" });
  return samples(text);
}

/** Picks `names` out of a scrape, 0 for a series not (yet) exported, as one object to compare whole. */
export function pick(m: Samples, names: readonly string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, m.get(n) ?? 0]));
}
