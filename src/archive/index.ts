// The archive target the config asks for: `log_storage.archive` (s3 or local), else the legacy `s3` block.
import type { Config } from "../config/schema.ts";
import { createLocalTarget } from "./local.ts";
import { createS3Target } from "./s3.ts";
import type { ArchiveTarget } from "./target.ts";

export function archiveFromConfig(
  ls: Config["log_storage"],
): { target: ArchiveTarget; prefix: string } | null {
  const a = ls.archive ?? (ls.s3 ? { type: "s3" as const, ...ls.s3 } : undefined);
  if (a === undefined) return null;
  if (a.type === "local") return { target: createLocalTarget(a.path), prefix: a.prefix };
  return {
    target: createS3Target({
      bucket: a.bucket,
      region: a.region,
      endpoint: a.endpoint,
      reads: ls.archive_reads,
    }),
    prefix: a.prefix,
  };
}
