// A validated Config back in the form the file takes: durations and sizes as text, so it can be read back.
import type * as v from "valibot";
import type { Tree } from "./load.ts";
import { type Config, ConfigSchema, Duration, Size } from "./schema.ts";
import { formatDuration, formatSize } from "./units.ts";

type Schema = v.GenericSchema & {
  type: string;
  wrapped?: Schema;
  pipe?: readonly unknown[];
  entries?: Record<string, Schema>;
  item?: Schema;
  options?: readonly Schema[];
  value?: Schema;
};

const isOf = (s: Schema, unit: unknown) => s === unit || s.pipe?.[0] === unit;

function unwrap(s: Schema): Schema {
  let out = s;
  while (out.wrapped !== undefined) out = out.wrapped;
  return out;
}

function walk(schema: Schema, value: unknown): unknown {
  const s = unwrap(schema);
  if (value === undefined || value === null) return value;
  if (isOf(s, Duration) && typeof value === "number") return formatDuration(value);
  if (isOf(s, Size) && typeof value === "number") return formatSize(value);
  if (s.entries !== undefined && typeof value === "object") {
    const out: Tree = {};
    for (const [k, val] of Object.entries(value as Tree)) {
      const entry = s.entries[k];
      out[k] = entry === undefined ? val : walk(entry, val);
    }
    return out;
  }
  if (s.item !== undefined && Array.isArray(value)) return value.map((x) => walk(s.item!, x));
  if (s.options !== undefined && s.type === "variant" && typeof value === "object") {
    // A variant's options are told apart by their `type` literal.
    const type = (value as Tree).type;
    const option = s.options.find(
      (o) => (o.entries?.type as { literal?: unknown } | undefined)?.literal === type,
    );
    return option === undefined ? value : walk(option, value);
  }
  if (s.value !== undefined && s.type === "record" && typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Tree).map(([k, x]) => [k, walk(s.value!, x)]));
  }
  return value;
}

/** The config as input: what `check-config` prints, and what it accepts back unchanged. */
export function configAsInput(config: Config): Tree {
  return walk(ConfigSchema as unknown as Schema, config) as Tree;
}
