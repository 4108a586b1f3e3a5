// `check-config --connect`: tests the archive bucket and says clearly what is wrong.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { stringify } from "yaml";
import { MAIN } from "../support/process.ts";
import { startS3, type TestS3 } from "../support/s3.ts";
import { tempDir } from "../support/server.ts";

async function checkConnect(
  dir: string,
  archive: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const file = join(dir, `c-${crypto.randomUUID()}.yaml`);
  await Bun.write(file, stringify({ log_storage: { local_dir: join(dir, "logs"), archive } }));
  const p = Bun.spawn([process.execPath, MAIN, "check-config", "--connect", file], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return {
    code,
    out: out
      .split("\n")
      .filter((l) => l.startsWith("# --connect"))
      .join("\n"),
    err,
  };
}

const where = (s3: TestS3, bucket = s3.bucket) => `s3://${bucket} at ${s3.endpoint}`;

describe("check-config --connect", () => {
  test("a reachable, writable bucket passes, and each failure says what is wrong", async () => {
    await using s3 = await startS3();
    using dir = tempDir();
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const deadPort = closed.port;
    const deadEndpoint = `http://127.0.0.1:${deadPort}`;
    closed.stop(true);

    const [ok, missing, denied, unreachable, local] = await Promise.all([
      checkConnect(dir.path, s3.archive()),
      checkConnect(dir.path, { ...s3.archive(), bucket: "no-such-bucket" }),
      checkConnect(dir.path, s3.archive(), { AWS_ACCESS_KEY_ID: "WRONG", AWS_SECRET_ACCESS_KEY: "WRONG" }),
      checkConnect(dir.path, { ...s3.archive(), endpoint: deadEndpoint }),
      checkConnect(dir.path, { type: "local", path: join(dir.path, "archive") }),
    ]);
    expect({ ok, missing, denied, unreachable, local }).toEqual({
      ok: { code: 0, out: `# --connect: archive ${where(s3)} reachable and writable`, err: "" },
      missing: {
        code: 1,
        out: "",
        err: `stroem-logs check-config: archive ${where(s3, "no-such-bucket")}: bucket no-such-bucket does not exist\n`,
      },
      denied: {
        code: 1,
        out: "",
        err: `stroem-logs check-config: archive ${where(s3)}: access denied to bucket ${s3.bucket} (HTTP 403) while checking the bucket: check the credentials the AWS default chain finds and the bucket policy\n`,
      },
      unreachable: {
        code: 1,
        out: "",
        err: `stroem-logs check-config: archive s3://${s3.bucket} at ${deadEndpoint}: cannot reach ${deadEndpoint}: connect ECONNREFUSED 127.0.0.1:${deadPort}\n`,
      },
      local: {
        code: 0,
        out: `# --connect: archive local directory ${join(dir.path, "archive")} reachable and writable`,
        err: "",
      },
    });
  });
});
