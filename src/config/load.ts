// Turns a YAML file, the environment and command-line flags into one validated Config; errors name their source.
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { describeIssue } from "../core/issues.ts";
import { UsageError } from "../errors.ts";
import { type Config, ConfigSchema } from "./schema.ts";

export type Tree = Record<string, unknown>;
type Keys = ReadonlyArray<string | number>;

/** A parsed config file: its values, and the line each key is on (for error messages). */
export interface ConfigFile {
  name: string;
  tree: Tree;
  /** The line of the deepest key of `keys` present in the file (1-based), or null. */
  lineOf(keys: Keys): number | null;
}

/**
 * Where the values of a merged tree came from. `set` maps a dot path to the flag or variable that set
 * it (it wins over the file for everything below it); the rest came from `file`, or from the defaults.
 */
export interface Provenance {
  set: Map<string, string>;
  file?: ConfigFile | undefined;
}

/** The name `-` (stdin) gets in messages. */
export const STDIN_NAME = "<stdin>";

/** Parses YAML text; a syntax error names the file and line. */
export function parseYaml(text: string, source: string): Tree {
  return parseConfigFile(text, source).tree;
}

export function parseConfigFile(text: string, source: string): ConfigFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? `${source}:${pos.line}:${pos.col}` : source;
    throw new UsageError(
      `${where}: YAML syntax error: ${err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`,
    );
  }
  const value = doc.toJS() as unknown;
  if (value !== null && value !== undefined && (typeof value !== "object" || Array.isArray(value))) {
    throw new UsageError(`${source}: expected a mapping of sections at the top level`);
  }
  const lineOf = (keys: Keys): number | null => {
    let node: unknown = doc.contents;
    let line: number | null = null;
    for (const key of keys) {
      let next: { at: Node | null; value: unknown } | null = null;
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
        if (pair) next = { at: pair.key as Node, value: pair.value };
      } else if (isSeq(node) && typeof key === "number") {
        const item = node.items[key];
        if (item !== undefined) next = { at: item as Node, value: item };
      }
      if (next === null) break;
      const start = next.at?.range?.[0];
      if (start !== undefined) line = lineCounter.linePos(start).line;
      node = next.value;
    }
    return line;
  };
  return { name: source, tree: (value ?? {}) as Tree, lineOf };
}

/** Reads a config file (`-`: standard input). */
export function readConfigSource(path: string): ConfigFile {
  const name = path === "-" ? STDIN_NAME : path;
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read config file ${name}: ${(e as Error).message}`);
  }
  return parseConfigFile(text, name);
}

export function readConfigFile(path: string): Tree {
  return readConfigSource(path).tree;
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

/**
 * `STROEM__LOG_STORAGE__LOCAL_DIR=/x` → `{log_storage: {local_dir: "/x"}}`, merged over `tree`; each path
 * set is recorded in `origins` under the variable's name.
 */
export function applyEnv(
  tree: Tree,
  env: Record<string, string | undefined>,
  origins?: Map<string, string>,
): Tree {
  const out = structuredClone(tree);
  // Sorted: the environment's order is the process's, and a variable that crosses another must fail the same way each time.
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (!name.startsWith("STROEM__") || raw === undefined) continue;
    const path = name.slice("STROEM__".length).toLowerCase().split("__");
    setPath(out, path, envScalar(raw), name);
    origins?.set(path.join("."), name);
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

/**
 * The source of the value at `keys` (an issue's path): the flag or variable that set it or a section
 * above it, else the file and line of the deepest key present there. For a missing key (`childOf`), a
 * variable that set a sibling counts too: it made the section.
 */
function sourceOf(keys: Keys, prov: Provenance, missing: boolean): string | null {
  for (let i = keys.length; i > 0; i--) {
    const label = prov.set.get(keys.slice(0, i).join("."));
    if (label !== undefined) return label;
  }
  if (missing && keys.length > 1) {
    const parent = `${keys.slice(0, -1).join(".")}.`;
    for (const [path, label] of prov.set) if (path.startsWith(parent)) return label;
  }
  const line = prov.file?.lineOf(keys) ?? null;
  return line === null ? null : `${prov.file!.name}:${line}`;
}

/**
 * Validates a merged tree; every error names its field path and what was expected, and — given the
 * provenance — where the bad value came from (`--listen`, `STROEM__LIMITS__MAX_STREAMS`, `config.yaml:12`).
 */
export function validateConfig(tree: Tree, source: string | Provenance = ""): Config {
  const result = v.safeParse(ConfigSchema, tree);
  if (result.success) return result.output;
  const prov = typeof source === "string" ? null : source;
  const lines = result.issues.map((issue) => {
    const { path, message } = describeIssue(issue, {
      root: "(top level)",
      indexBrackets: false,
      unknown: (at) => `unknown key (allowed here: ${allowedKeys(at)})`,
      missing: "required but missing",
    });
    const missing = issue.type === "strict_object" && issue.received === "undefined";
    const keys = (issue.path ?? []).map((p) => p.key as string | number);
    const from = prov === null ? null : sourceOf(keys, prov, missing);
    return `  ${from === null ? "" : `${from}: `}${path}: ${message}`;
  });
  throw new UsageError(`invalid config:\n${lines.join("\n")}`);
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
  /** A YAML file; `-` reads standard input. */
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Flags, as paths into the tree: `{"server.listen": "127.0.0.1:0"}`. */
  flags?: Record<string, unknown>;
  /** How each flag is spelt on the command line, for messages: `{"server.listen": "--listen"}`. */
  flagNames?: Record<string, string>;
}

/** flag > env > file > default. */
export function loadConfig(opts: LoadOptions): Config {
  const file = opts.file ? readConfigSource(opts.file) : undefined;
  const prov: Provenance = { set: new Map(), file };
  const env = opts.env ?? {};
  let tree = applyEnv(file?.tree ?? {}, env, prov.set);
  for (const [path, value] of Object.entries(opts.flags ?? {})) {
    if (value === undefined) continue;
    const name = opts.flagNames?.[path] ?? `flag ${path}`;
    setPath(tree, path.split("."), value, name);
    prov.set.set(path, name);
  }
  tree = expandFileVariables(tree, env, prov);
  return validateConfig(tree, prov);
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * `${NAME}` in the paths of secret files (keys ending in `_file`) is replaced from the environment, so a
 * unit can point at systemd's credentials: `worker_token_file: ${CREDENTIALS_DIRECTORY}/worker-token`.
 * Nowhere else: a token or URL may hold a literal `${`.
 */
function expandFileVariables(tree: Tree, env: Record<string, string | undefined>, prov: Provenance): Tree {
  const walk = (node: unknown, keys: string[]): unknown => {
    if (Array.isArray(node)) return node.map((n, i) => walk(n, [...keys, String(i)]));
    if (node === null || typeof node !== "object") return node;
    const out: Tree = {};
    for (const [k, val] of Object.entries(node as Tree)) {
      out[k] =
        k.endsWith("_file") && typeof val === "string"
          ? val.replace(VARIABLE, (_, name: string) => {
              const value = env[name];
              if (value !== undefined && value !== "") return value;
              const path = [...keys, k];
              const from = sourceOf(path, prov, false);
              throw new UsageError(
                `${from === null ? "" : `${from}: `}${path.join(".")}: \${${name}} is not set` +
                  (name === "CREDENTIALS_DIRECTORY"
                    ? " (systemd sets it for a unit with LoadCredential=)"
                    : ""),
              );
            })
          : walk(val, [...keys, k]);
    }
    return out;
  };
  return walk(tree, []) as Tree;
}

/** The effective config, secrets masked, for `check-config`: tokens, secrets, auth headers, URL credentials. */
export function redactConfig(config: Config | Tree): Tree {
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
