// What a reload changes: settings applied at once (log, auth, hooks) and those that wait for a restart.
import { redactConfig, type Tree } from "./load.ts";
import { configAsInput } from "./print.ts";
import type { Config } from "./schema.ts";

/** Applied by a SIGHUP reload; every other setting needs a restart (it is wired into a running module). */
export const RELOADABLE = ["log", "auth", "hooks"] as const;

export interface ConfigDiff {
  /** `log.level: info → debug`, for the reloadable settings (hooks and tokens are described by the server). */
  applied: string[];
  /** Dot paths of changed settings that keep their running value until a restart. */
  needsRestart: string[];
}

/** Leaves by dot path; a list is one leaf (its order and length are part of the value). */
function leaves(tree: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (tree !== null && typeof tree === "object" && !Array.isArray(tree)) {
    for (const [k, val] of Object.entries(tree as Tree)) leaves(val, prefix ? `${prefix}.${k}` : k, out);
  } else if (tree !== undefined) {
    out.set(prefix, JSON.stringify(tree));
  }
  return out;
}

export function diffConfig(before: Config, after: Config): ConfigDiff {
  // Compared as printed and masked: a secret never reaches the log, only that its path changed.
  const a = leaves(redactConfig(configAsInput(before)), "", new Map());
  const b = leaves(redactConfig(configAsInput(after)), "", new Map());
  const applied: string[] = [];
  const needsRestart: string[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const was = a.get(path);
    const now = b.get(path);
    if (was === now) continue;
    const section = path.split(".")[0]!;
    if (!(RELOADABLE as readonly string[]).includes(section)) needsRestart.push(path);
    // Tokens themselves are masked: the server says how the token sets changed.
    else if (section !== "hooks" && !/_tokens?$/.test(path))
      applied.push(`${path}: ${was ?? "(unset)"} → ${now ?? "(unset)"}`);
  }
  return { applied, needsRestart };
}
