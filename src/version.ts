// The version: injected by scripts/build.ts into the binary, read from package.json when run from source.
import pkg from "../package.json" with { type: "json" };

declare const STROEM_LOGS_BUILD: string | undefined;

export const VERSION: string =
  typeof STROEM_LOGS_BUILD === "string" ? STROEM_LOGS_BUILD : `${pkg.version}-dev`;
