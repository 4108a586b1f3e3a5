// Secrets masked at the source: `--mask-env NAME[,NAME…]` and `--mask-file FILE` read into one masker.
import { readFileSync } from "node:fs";
import { createMasker, type Masker } from "../core/mask.ts";
import { secretProblem, secretUnits } from "../core/mask-forms.ts";
import { UsageError } from "../errors.ts";

export const maskFlags = {
  "mask-env": { type: "string", multiple: true },
  "mask-file": { type: "string", multiple: true },
} as const;

export const MASK_USAGE = "[--mask-env NAME[,NAME...]] [--mask-file FILE]";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface MaskSources {
  "mask-env"?: string[] | undefined;
  "mask-file"?: string[] | undefined;
}

/**
 * The masker for the flags, or undefined when none is given. Refuses (a usage error: the command is not
 * started) a value that cannot be masked safely or a file that cannot be read; warns about a variable that
 * is unset or empty (nothing to mask) and about lines of a file too short to be masked on their own.
 * Messages name the variable or file, never the value.
 */
export function maskerFrom(
  flags: MaskSources,
  warn: (message: string) => void,
  env: Record<string, string | undefined> = process.env,
): Masker | undefined {
  const names = (flags["mask-env"] ?? []).flatMap((list) => list.split(",")).filter((n) => n.length > 0);
  const files = flags["mask-file"] ?? [];
  if (names.length === 0 && files.length === 0) return undefined;
  const values: string[] = [];
  const add = (source: string, value: string) => {
    if (value.trim().length === 0) return warn(`${source}: empty, nothing to mask`);
    const problem = secretProblem(value);
    if (problem !== null) throw new UsageError(`${source}: ${problem}`);
    values.push(value);
  };
  for (const name of names) {
    if (!ENV_NAME.test(name))
      throw new UsageError(`--mask-env: ${JSON.stringify(name)} is not an environment variable name`);
    const value = env[name];
    if (value === undefined) warn(`--mask-env ${name}: not set, nothing to mask`);
    else add(`--mask-env ${name}`, value);
  }
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UsageError(`--mask-file ${file}: cannot read it: ${(e as Error).message}`);
    }
    add(`--mask-file ${file}`, text);
    const { shortLines } = secretUnits(text);
    if (shortLines.length > 0) {
      warn(
        `--mask-file ${file}: line${shortLines.length > 1 ? "s" : ""} ${shortLines.join(", ")} ` +
          "shorter than 4 characters: masked only as part of the whole file",
      );
    }
  }
  return createMasker(values);
}
