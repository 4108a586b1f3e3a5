// biome-ignore-all lint/suspicious/noTemplateCurlyInString: some tests are about literal ${VAR} text in config values

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import {
  applyEnv,
  loadConfig,
  parseYaml,
  redactConfig,
  splitListen,
  validateConfig,
} from "../../src/config/load.ts";
import { configAsInput } from "../../src/config/print.ts";
import { formatDuration, formatSize, parseDuration, parseSize } from "../../src/config/units.ts";
import { UsageError } from "../../src/errors.ts";
import { tempDir } from "../support/server.ts";

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("config", () => {
  test("with no file and no environment the embedded defaults apply", () => {
    const config = loadConfig({});
    expect({
      server: config.server,
      local_dir: config.log_storage.local_dir,
      archive: config.log_storage.s3 ?? config.log_storage.archive ?? null,
      limits: {
        max_body_bytes: config.limits.max_body_bytes,
        max_line_bytes: config.limits.max_line_bytes,
        max_read_bytes: config.limits.max_read_bytes,
      },
    }).toEqual({
      server: {
        listen: "127.0.0.1:8080",
        shutdown_timeout: 10_000,
        idle_timeout: 10_000,
        decode_workers: availableParallelism() > 1 ? 1 : 0,
      },
      local_dir: "/tmp/stroem/logs",
      archive: null,
      limits: {
        max_body_bytes: 8 * 1024 * 1024,
        max_line_bytes: 2 * 1024 * 1024,
        max_read_bytes: 16 * 1024 * 1024,
      },
    });
  });

  test("precedence is flag over environment over file over default", () => {
    const tree = parseYaml(
      "server:\n  listen: 10.0.0.1:1\nlog_storage:\n  local_dir: /from-file\n",
      "f.yaml",
    );
    const withEnv = applyEnv(tree, {
      STROEM__SERVER__LISTEN: "10.0.0.2:2",
      STROEM__LOG_STORAGE__FSYNC: "true",
    });
    const config = validateConfig(withEnv, "f.yaml");
    expect([config.server.listen, config.log_storage.local_dir, config.log_storage.fsync]).toEqual([
      "10.0.0.2:2",
      "/from-file",
      true,
    ]);
    const flagged = loadConfig({
      env: { STROEM__SERVER__LISTEN: "10.0.0.2:2" },
      flags: { "server.listen": "1.2.3.4:5" },
    });
    expect(flagged.server.listen).toBe("1.2.3.4:5");
  });

  test("environment values take the type their field expects: an all-digit token stays a string", () => {
    const config = loadConfig({
      env: {
        STROEM__AUTH__WORKER_TOKEN: "98765432109876543210",
        STROEM__AUTH__READ_TOKENS: '["0123", "abc"]',
        STROEM__LIMITS__MAX_STREAMS: "500",
        STROEM__LIMITS__MAX_BODY_BYTES: "4MiB",
        STROEM__LOG_STORAGE__FSYNC: "true",
        STROEM__SERVER__SHUTDOWN_TIMEOUT: "2s",
        STROEM__RETENTION__LOCAL_DAYS: "30",
        STROEM__RETENTION__ARCHIVE_DAYS: "0.5",
      },
    });
    expect([config.retention.local_days, config.retention.archive_days]).toEqual([30, 0.5]);
    expect([
      config.auth.worker_token,
      config.auth.read_tokens,
      config.limits.max_streams,
      config.limits.max_body_bytes,
      config.log_storage.fsync,
      config.server.shutdown_timeout,
    ]).toEqual(["98765432109876543210", ["0123", "abc"], 500, 4 * 1024 * 1024, true, 2000]);
    expect(errorOf(() => loadConfig({ env: { STROEM__LIMITS__MAX_STREAMS: "many" } }))).toBe(
      'invalid config:\n  STROEM__LIMITS__MAX_STREAMS: limits.max_streams: expected a whole number (got "many")',
    );
  });

  test("the seed's log_storage block is accepted as written, with the s3 prefix defaulting to empty", () => {
    const config = validateConfig(
      parseYaml(
        `log_storage:\n  local_dir: "/var/stroem/logs"\n  s3:\n    bucket: "my-stroem-logs"\n    region: "eu-west-1"\n    endpoint: "http://minio:9000"\n`,
        "seed.yaml",
      ),
      "seed.yaml",
    );
    expect(config.log_storage.s3).toEqual({
      bucket: "my-stroem-logs",
      region: "eu-west-1",
      prefix: "",
      endpoint: "http://minio:9000",
    });
  });

  test("sizes and durations take human units", () => {
    expect([
      parseSize("8MiB"),
      parseSize("1 GiB"),
      parseSize(1024),
      parseSize("500KB"),
      parseSize("lots"),
    ]).toEqual([8 * 1024 * 1024, 1024 ** 3, 1024, 500_000, null]);
    expect([
      parseDuration("500ms"),
      parseDuration("10s"),
      parseDuration("15m"),
      parseDuration("2h"),
      parseDuration("x"),
    ]).toEqual([500, 10_000, 900_000, 7_200_000, null]);
    expect([formatDuration(900_000), formatDuration(1500)]).toEqual(["15m", "1500ms"]);
  });

  test("an unknown key names its path and the keys allowed there", () => {
    expect(errorOf(() => validateConfig({ server: { lisen: "127.0.0.1:1" } }, "c.yaml"))).toBe(
      "invalid config:\n  server.lisen: unknown key (allowed here: listen, shutdown_timeout, idle_timeout, decode_workers)",
    );
  });

  test("a missing bucket under s3 and a wrong type are reported with their paths", () => {
    const message = errorOf(() =>
      validateConfig(
        { log_storage: { s3: { region: "eu-west-1" } }, limits: { max_body_bytes: "lots" } },
        "c.yaml",
      ),
    );
    expect(message).toBe(
      'invalid config:\n  log_storage.s3.bucket: required but missing\n  limits.max_body_bytes: expected a size like 1048576 or 1MiB (got "lots")',
    );
  });

  test("a YAML syntax error names the file and line", () => {
    expect(errorOf(() => parseYaml("server:\n  listen: [\nlog_storage: {}\n", "bad.yaml"))).toMatch(
      /^bad\.yaml:3:\d+: YAML syntax error: /,
    );
  });

  test("an unreadable file is reported with its path", () => {
    expect(errorOf(() => loadConfig({ file: "/nonexistent/stroem.yaml" }))).toStartWith(
      "cannot read config file /nonexistent/stroem.yaml: ENOENT",
    );
  });

  test("secrets are masked in the printed config", () => {
    expect(
      redactConfig({
        auth: { worker_token: "s3cret", read_tokens: ["a", "b"], worker_token_file: "/etc/t" },
        hooks: [{ url: "https://user:pw@hooks.example/x", headers: { Authorization: "Bearer z" } }],
      } as never),
    ).toEqual({
      auth: { worker_token: "***", read_tokens: ["***", "***"], worker_token_file: "/etc/t" },
      hooks: [{ url: "https://***@hooks.example/x", headers: { Authorization: "***" } }],
    });
  });

  test("listen addresses split into host and port, IPv6 included", () => {
    expect([splitListen("127.0.0.1:8080"), splitListen("[::1]:0")]).toEqual([
      { hostname: "127.0.0.1", port: 8080 },
      { hostname: "::1", port: 0 },
    ]);
  });

  test("a bad value names its source: the file and line, the variable, the flag", () => {
    using dir = tempDir();
    const file = join(dir.path, "c.yaml");
    writeFileSync(
      file,
      [
        "server:",
        "  listen: 127.0.0.1:1",
        "  lisen: x",
        "log_storage:",
        "  s3:",
        "    region: eu-west-1",
        "hooks:",
        "  - url: https://ci.example/a",
        "  - url: https://ci.example/b",
        "    retries: many",
        "limits:",
        "  max_streams: 10",
        "",
      ].join("\n"),
    );
    expect(
      errorOf(() =>
        loadConfig({
          file,
          env: { STROEM__LIMITS__MAX_STREAMS: "lots", STROEM__STREAM__PING_INTERVAL: "1s" },
          flags: { "server.listen": "nowhere" },
          flagNames: { "server.listen": "--listen" },
        }),
      ),
    ).toBe(
      [
        "invalid config:",
        '  --listen: server.listen: expected HOST:PORT (got "nowhere")',
        `  ${file}:3: server.lisen: unknown key (allowed here: listen, shutdown_timeout, idle_timeout, decode_workers)`,
        `  ${file}:5: log_storage.s3.bucket: required but missing`,
        `  ${file}:10: hooks.1.retries: expected a whole number (got "many")`,
        '  STROEM__LIMITS__MAX_STREAMS: limits.max_streams: expected a whole number (got "lots")',
        "  STROEM__STREAM__PING_INTERVAL: stream.ping_interval: expected 4s to 480s (got 1000 ms)",
      ].join("\n"),
    );
  });

  test("a section made by a variable is where a key missing from it is blamed", () => {
    expect(errorOf(() => loadConfig({ env: { STROEM__LOG_STORAGE__S3__REGION: "eu-west-1" } }))).toBe(
      "invalid config:\n  STROEM__LOG_STORAGE__S3__REGION: log_storage.s3.bucket: required but missing",
    );
  });

  test("${VAR} in a secret file's path comes from the environment, and an unset one names the line", () => {
    using dir = tempDir();
    const file = join(dir.path, "c.yaml");
    writeFileSync(file, "auth:\n  worker_token_file: ${CREDENTIALS_DIRECTORY}/worker-token\n");
    const config = loadConfig({
      file,
      env: { CREDENTIALS_DIRECTORY: "/run/credentials/stroem-logs.service" },
    });
    expect(config.auth.worker_token_file).toBe("/run/credentials/stroem-logs.service/worker-token");
    expect(errorOf(() => loadConfig({ file, env: {} }))).toBe(
      `${file}:2: auth.worker_token_file: \${CREDENTIALS_DIRECTORY} is not set (systemd sets it for a unit with LoadCredential=)`,
    );
    // Only paths of secret files are expanded: a token may hold a literal ${.
    const literal = loadConfig({ env: { STROEM__AUTH__WORKER_TOKEN: "a${HOME}b" } });
    expect(literal.auth.worker_token).toBe("a${HOME}b");
  });

  test("the config printed as input has durations and sizes as text and validates back to the same config", () => {
    const config = validateConfig(
      {
        server: { shutdown_timeout: "90s" },
        limits: { max_body_bytes: "4MiB", max_line_bytes: 1000 },
        hooks: [{ url: "https://ci.example/h", timeout: "1500ms" }],
        log_storage: { archive: { type: "local", path: "/a" } },
        retention: { local_days: 0.5 },
      },
      "t",
    );
    const input = configAsInput(config) as Record<string, Record<string, unknown>>;
    expect([
      input.server!.shutdown_timeout,
      input.limits!.max_body_bytes,
      input.limits!.max_line_bytes,
      input.limits!.max_job_bytes,
      (input.hooks as unknown as Array<Record<string, unknown>>)[0]!.timeout,
      (input.log_storage!.archive_retry as Record<string, unknown>).max,
      input.stream!.ping_interval,
      input.retention!.local_days,
    ]).toEqual(["90s", "4MiB", 1000, "1GiB", "1500ms", "1m", "30s", 0.5]);
    expect(validateConfig(parseYaml(stringify(input), "printed"), "printed")).toEqual(config);
  });

  test("sizes print in the largest binary unit that divides them", () => {
    expect([1024 ** 3, 8 * 1024 ** 2, 256 * 1024, 1000, 0, 1536].map(formatSize)).toEqual([
      "1GiB",
      "8MiB",
      "256KiB",
      1000,
      0,
      1536,
    ]);
  });
});
