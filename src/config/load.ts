// Turns a YAML file, the environment and command-line flags into one validated Config.
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { parseDocument } from "yaml";
import { describeIssue } from "../core/issues.ts";
import { UsageError } from "../errors.ts";
import { type Config, ConfigSchema } from "./schema.ts";

export type Tree = Record<string, unknown>;

/** Parses YAML text; a syntax error names the file and line. */
export function parseYaml(text: string, source: string): Tree {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? `${source}:${pos.line}:${pos.col}` : source;
    throw new UsageError(
      `${where}: YAML syntax error: ${err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`,
    );
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`${source}: expected a mapping of sections at the top level`);
  }
  return value as Tree;
}

export function readConfigFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  return parseYaml(text, path);
}

/**
 * Env value → config value: JSON lists and objects are parsed; everything else stays a string, which the
 * schema turns into a number, boolean, size or duration where that field expects one — so a token made
 * only of digits stays the string it is.
 */
function envScalar(raw: string): unknown {
  if (raw.startsWith("[") || raw.startsWith("{")) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/** `STROEM__LOG_STORAGE__LOCAL_DIR=/x` → `{log_storage: {local_dir: "/x"}}`, merged over `tree`. */
export function applyEnv(tree: Tree, env: Record<string, string | undefined>): Tree {
  const out = structuredClone(tree);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith("STROEM__") || raw === undefined) continue;
    const path = name.slice("STROEM__".length).toLowerCase().split("__");
    setPath(out, path, envScalar(raw), name);
  }
  return out;
}

export function setPath(tree: Tree, path: string[], value: unknown, origin: string): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== "object" || Array.isArray(next)) {
      throw new UsageError(`${origin}: ${path.join(".")} crosses ${key}, which is not a section`);
    }
    node = node[key] as Tree;
  }
  node[path.at(-1)!] = value;
}

/** Validates a merged tree; every error names its field path and what was expected. */
export function validateConfig(tree: Tree, source: string): Config {
  const result = v.safeParse(ConfigSchema, tree);
  if (result.success) return result.output;
  const lines = result.issues.map((issue) => {
    const { path, message } = describeIssue(issue, {
      root: "(top level)",
      indexBrackets: false,
      unknown: (at) => `unknown key (allowed here: ${allowedKeys(at)})`,
      missing: "required but missing",
    });
    return `  ${path}: ${message}`;
  });
  throw new UsageError(`invalid config (${source}):\n${lines.join("\n")}`);
}

function allowedKeys(dotPath: string): string {
  let schema: v.GenericSchema = ConfigSchema;
  for (const key of dotPath.split(".").slice(0, -1)) {
    const inner = unwrap(schema);
    if (!("entries" in inner)) return "?";
    schema = (inner.entries as Record<string, v.GenericSchema>)[key]!;
  }
  const inner = unwrap(schema);
  if ("entries" in inner) return Object.keys(inner.entries as object).join(", ");
  if ("options" in inner) return "see the README";
  return "?";
}

function unwrap(schema: v.GenericSchema): v.GenericSchema & Record<string, unknown> {
  let s = schema as v.GenericSchema & Record<string, unknown>;
  while ("wrapped" in s) s = s.wrapped as typeof s;
  return s;
}

export interface LoadOptions {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Flags, as paths into the tree: `{"server.listen": "127.0.0.1:0"}`. */
  flags?: Record<string, unknown>;
}

/** flag > env > file > default. */
export function loadConfig(opts: LoadOptions): Config {
  let tree: Tree = opts.file ? readConfigFile(opts.file) : {};
  tree = applyEnv(tree, opts.env ?? {});
  for (const [path, value] of Object.entries(opts.flags ?? {})) {
    if (value !== undefined) setPath(tree, path.split("."), value, `flag ${path}`);
  }
  return validateConfig(tree, opts.file ?? "embedded defaults");
}

/** The effective config, secrets masked, for `check-config`: tokens, secrets, auth headers, URL credentials. */
export function redactConfig(config: Config): Tree {
  return JSON.parse(
    JSON.stringify(config, (key, value) => {
      if (
        /(token|tokens|secret|password|authorization)$/i.test(key) &&
        value !== undefined &&
        value !== null &&
        value !== ""
      ) {
        return Array.isArray(value) ? value.map(() => "***") : "***";
      }
      return typeof value === "string" ? value.replace(/(\/\/)[^/@\s]+@/, "$1***@") : value;
    }),
  ) as Tree;
}

/** Host and port from "HOST:PORT" (IPv6 in brackets). */
export function splitListen(listen: string): { hostname: string; port: number } {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { hostname: host, port: Number(listen.slice(i + 1)) };
}
