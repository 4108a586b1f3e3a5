// The config's shape, defaults and types: one valibot schema, validated once at start-up.
import { availableParallelism } from "node:os";
import * as v from "valibot";
import { TERMINAL, TerminalStatusName } from "../protocol/status.ts";
import { parseDuration, parseSize } from "./units.ts";

/** "500ms" | "10s" | "15m" | "2h" | "7d" → milliseconds. */
export const Duration = v.pipe(
  v.string("expected a duration string like 500ms, 10s or 15m"),
  v.check(
    (s) => parseDuration(s) !== null,
    (i) => `expected a duration like 500ms, 10s or 15m (got ${i.received})`,
  ),
  v.transform((s) => parseDuration(s)!),
);

/** 1048576 | "1MiB" | "500KB" → bytes. */
export const Size = v.pipe(
  v.union([v.number(), v.string()], "expected a size like 1048576 or 1MiB"),
  v.check(
    (s) => parseSize(s) !== null,
    (i) => `expected a size like 1048576 or 1MiB (got ${i.received})`,
  ),
  v.transform((s) => parseSize(s)!),
);

/** A non-negative number of days (fractions allowed: 0.5 is twelve hours). */
const Days = v.pipe(
  v.union(
    // Also its decimal text: environment overrides arrive as strings (STROEM__RETENTION__LOCAL_DAYS=30).
    [v.number(), v.pipe(v.string(), v.regex(/^\d+(\.\d+)?$/), v.transform(Number))],
    (i) => `expected a number of days (got ${i.received})`,
  ),
  v.minValue(0, (i) => `expected 0 or more days (got ${i.received})`),
);

/**
 * A whole number within [min, max]; also its decimal text, since environment overrides arrive as strings
 * (`STROEM__LIMITS__MAX_STREAMS=500`).
 */
const Int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(
    v.union(
      [v.number(), v.pipe(v.string(), v.regex(/^-?\d+$/), v.transform(Number))],
      (i) => `expected a whole number (got ${i.received})`,
    ),
    v.integer("expected a whole number"),
    v.minValue(min, (i) => `expected at least ${min} (got ${i.input})`),
    v.maxValue(max, (i) => `expected at most ${max} (got ${i.input})`),
  );

/** true/false, or their text from the environment. */
const Bool = v.pipe(
  v.union([v.boolean(), v.picklist(["true", "false"])], "expected true or false"),
  v.transform((b) => b === true || b === "true"),
);

const NonEmpty = v.pipe(v.string("expected a non-empty string"), v.nonEmpty("expected a non-empty string"));

const Listen = v.pipe(
  v.string("expected HOST:PORT"),
  v.regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, (i) => `expected HOST:PORT (got ${i.received})`),
);

const S3 = v.strictObject({
  bucket: NonEmpty,
  region: v.optional(NonEmpty, "us-east-1"),
  prefix: v.optional(v.string(), ""),
  endpoint: v.optional(v.pipe(NonEmpty, v.url("expected a URL like http://minio:9000"))),
});

/** Strøm's later form: `archive: {type: s3|local, ...}`; wins over the legacy `s3` block. */
const Archive = v.variant("type", [
  v.strictObject({
    type: v.literal("s3"),
    bucket: NonEmpty,
    region: v.optional(NonEmpty, "us-east-1"),
    prefix: v.optional(v.string(), ""),
    endpoint: v.optional(v.pipe(NonEmpty, v.url("expected a URL like http://minio:9000"))),
  }),
  v.strictObject({
    type: v.literal("local"),
    path: NonEmpty,
    prefix: v.optional(v.string(), ""),
  }),
]);

/** A job-end hook: a JSON POST describing the job to `url` when it ends with a status in `on`. */
const Hook = v.strictObject({
  url: v.pipe(
    NonEmpty,
    v.url("expected a URL like https://ci.example/hook"),
    v.startsWith("http", "expected an http or https URL"),
  ),
  on: v.optional(v.array(TerminalStatusName), () => [...TERMINAL]),
  timeout: v.optional(Duration, "10s"),
  headers: v.optional(v.record(v.string(), v.string("expected a string header value")), {}),
  /** Attempts after the first, for connection errors, timeouts, 5xx, 408 and 429. */
  retries: v.optional(Int(0, 10), 2),
  /** Wait before the first retry; doubles each time. */
  backoff: v.optional(Duration, "1s"),
});

/** Strøm mode (src/strom): beside a running Strøm server, stroem-logs asks it about jobs and callers. */
const StromSection = v.pipe(
  v.strictObject({
    /** Strøm's server as stroem-logs reaches it, e.g. `http://strom:8081` (its own address, not the router's). */
    api_url: v.pipe(
      NonEmpty,
      v.url("expected a URL like http://strom:8081"),
      v.regex(
        /^https?:\/\/[^/?#]+\/?$/,
        (i) => `expected http(s)://HOST[:PORT] with no path (got ${i.received})`,
      ),
      v.transform((u) => u.replace(/\/$/, "")),
    ),
    /** A `strm_` API key of a Strøm user who may view every job (an admin, or an ACL `view` on `*`). */
    token: v.optional(NonEmpty),
    /** A file holding that key (first line), to keep it out of the YAML. */
    token_file: v.optional(NonEmpty),
    /** A request to Strøm not answered within this long counts as Strøm being down. */
    request_timeout: v.optional(Duration, "5s"),
    /** How often the status of each job still running is asked (the job sync). */
    poll_interval: v.optional(Duration, "5s"),
    /** How long after Strøm reports a job's end its `_server` events are still folded in (hook failures come late). */
    late_events: v.optional(Duration, "2m"),
    /** How long Strøm's "this caller may read this job" is reused (at most until a JWT's own `exp`). */
    auth_cache_ttl: v.optional(Duration, "30s"),
    /** How long a refusal (404 or 401) is reused: shorter, so a granted ACL or a refreshed login shows soon. */
    auth_cache_negative_ttl: v.optional(Duration, "5s"),
    /** Answers kept (per credential and job); the least recently used goes first. */
    auth_cache_size: v.optional(Int(1), 10_000),
  }),
  v.check(
    (s) => s.token === undefined || s.token_file === undefined,
    "strom: set token or token_file, not both",
  ),
);

export const ConfigSchema = v.strictObject({
  server: v.optional(
    v.strictObject({
      listen: v.optional(Listen, "127.0.0.1:8080"),
      /** How long a graceful shutdown waits for in-flight requests before closing them. */
      shutdown_timeout: v.optional(Duration, "10s"),
      /**
       * A connection whose client sends and reads nothing for this long is closed (Bun's idleTimeout, whole
       * seconds, at most 255 s). Never while the server itself is still working on the request.
       */
      idle_timeout: v.optional(
        v.pipe(
          Duration,
          v.check(
            (ms) => ms >= 1000 && ms <= 255_000 && ms % 1000 === 0,
            (i) => `expected whole seconds from 1s to 255s (got ${i.input} ms)`,
          ),
        ),
        "10s",
      ),
      /**
       * Threads that parse and encode push bodies beside the server's own (0: on the server's thread). One uses
       * the second core of a two-core machine; the default is 1 with two or more cores, else 0.
       */
      decode_workers: v.optional(
        v.pipe(
          v.number("expected a number of threads"),
          v.integer("expected a whole number of threads"),
          v.minValue(0, "expected 0 or more threads"),
          v.maxValue(16, "expected at most 16 threads"),
        ),
        // A second thread only pays with a second core to run it.
        () => (availableParallelism() > 1 ? 1 : 0),
      ),
    }),
    {},
  ),
  log_storage: v.optional(
    v.strictObject({
      local_dir: v.optional(NonEmpty, "/tmp/stroem/logs"),
      /** SQLite database for job state; default `{local_dir}/stroem-logs.db`. */
      db_path: v.optional(NonEmpty),
      /** fdatasync every batch before acknowledging it: survives power loss, not only a crash. */
      fsync: v.optional(Bool, false),
      delete_local_after_archive: v.optional(Bool, false),
      s3: v.optional(S3),
      archive: v.optional(Archive),
      /** Wait between failed archive attempts: doubles from `initial`, capped at `max`; retried forever. */
      archive_retry: v.optional(
        v.strictObject({ initial: v.optional(Duration, "1s"), max: v.optional(Duration, "60s") }),
        {},
      ),
      /** Quiet time after a late line (a late flush, a late server event) before the archive is re-uploaded. */
      rearchive_delay: v.optional(Duration, "5s"),
      /**
       * Client reads of archived logs (S3): GETs open at once, on a connection pool of their own; a reader that
       * takes nothing for `stall_timeout` gives its connection back (and resumes with a ranged GET); a read
       * that gets no connection within `wait_timeout` is a 503.
       */
      archive_reads: v.optional(
        v.strictObject({
          max_open: v.optional(Int(1, 1024), 32),
          stall_timeout: v.optional(Duration, "10s"),
          wait_timeout: v.optional(Duration, "30s"),
        }),
        {},
      ),
    }),
    {},
  ),
  hooks: v.optional(v.array(Hook), []),
  recovery: v.optional(
    v.strictObject({
      /** A running job with no push and no heartbeat for this long is failed. */
      stale_after: v.optional(Duration, "15m"),
      sweep_interval: v.optional(Duration, "30s"),
    }),
    {},
  ),
  /** Deletion of old logs by age since the job ended (src/retention); nothing is deleted unless set. */
  retention: v.optional(
    v.strictObject({
      /** Local files; with an archive only once it is verified, without one the whole job goes. */
      local_days: v.optional(Days),
      /** The archive object, the job's row, idempotency keys and line index, and the local file. */
      archive_days: v.optional(Days),
      sweep_interval: v.optional(Duration, "1h"),
      /** Jobs handled per batch before the sweep yields to requests. */
      batch_size: v.optional(Int(1), 200),
    }),
    {},
  ),
  limits: v.optional(
    v.strictObject({
      max_body_bytes: v.optional(Size, 8 * 1024 * 1024),
      /** 2 MiB: Strøm's push body limit (axum's default), so a line Strøm's worker can send is stored whole. */
      max_line_bytes: v.optional(Size, 2 * 1024 * 1024),
      max_read_bytes: v.optional(Size, 16 * 1024 * 1024),
      /** Open append handles kept in the LRU; the least recently written job's handle is closed past it. */
      max_open_files: v.optional(Int(1), 256),
      /** Per-job cap: past it the first half and a rolling last part are kept, the middle is elided. */
      max_job_bytes: v.optional(Size, 1024 ** 3),
      /** Live streams (WebSocket viewers) per job and in total; past them a 503 with Retry-After. */
      max_streams_per_job: v.optional(Int(1), 1000),
      max_streams: v.optional(Int(1), 10_000),
      /** A request body (a push, a job edit) not fully received within this is answered 408. */
      request_timeout: v.optional(Duration, "30s"),
    }),
    {},
  ),
  auth: v.optional(
    v.strictObject({
      /** Required on every write (/worker/*, PUT/POST /api/jobs, events); can read too. */
      worker_token: v.optional(NonEmpty),
      /** A file holding the worker token (first line), to keep it out of the YAML. */
      worker_token_file: v.optional(NonEmpty),
      /** Tokens accepted on reads and on the stream. */
      read_tokens: v.optional(v.array(NonEmpty, "expected a list of tokens"), []),
      /** A file with one read token per line. */
      read_tokens_file: v.optional(NonEmpty),
      /** A token that opens `GET /metrics` only (a read token opens it too), for the Prometheus scraper. */
      metrics_token: v.optional(NonEmpty),
      /** A file holding the metrics token (first line). */
      metrics_token_file: v.optional(NonEmpty),
      /** Serve without tokens on a non-loopback address. Deliberately insecure. */
      allow_anonymous: v.optional(Bool, false),
    }),
    {},
  ),
  /** The server's own log on stderr (reloaded on SIGHUP). */
  log: v.optional(
    v.strictObject({
      /** text: `info: msg key=value`; json: one object a line (time, level, msg, fields, error). */
      format: v.optional(
        v.picklist(["text", "json"], (i) => `expected text or json (got ${i.received})`),
        "text",
      ),
      level: v.optional(
        v.picklist(
          ["debug", "info", "warn", "error"],
          (i) => `expected debug, info, warn or error (got ${i.received})`,
        ),
        "info",
      ),
      /** One line per request: method, route pattern, status, bytes, duration, job id, client. */
      access: v.optional(Bool, false),
    }),
    {},
  ),
  /** The live WebSocket stream (`GET /api/jobs/{id}/logs/stream`). */
  stream: v.optional(
    v.strictObject({
      /** An idle socket is pinged after this long and closed when no pong came a ping_interval later (4s–480s). */
      ping_interval: v.optional(
        v.pipe(
          Duration,
          v.check(
            (ms) => ms >= 4000 && ms <= 480_000,
            (i) => `expected 4s to 480s (got ${i.input} ms)`,
          ),
        ),
        "30s",
      ),
      /** Largest frame sent to a viewer (a single longer line is a frame of its own). */
      max_frame_bytes: v.optional(Size, 256 * 1024),
      /**
       * What the server buffers for all viewers that do not keep up, together; past half of it the ones
       * stalled longest are closed (src/live/budget.ts).
       */
      max_buffered_bytes: v.optional(Size, 256 * 1024 * 1024),
    }),
    {},
  ),
  strom: v.optional(StromSection),
  /** Secrets registered for jobs and masked at ingest (PUT /api/jobs/{id} `secrets`, POST /worker/jobs/{id}/secrets). */
  masking: v.optional(
    v.strictObject({
      /**
       * A 256-bit key (64 hex digits or base64) that seals registered values at rest (AES-256-GCM) so they
       * survive a restart; without it they are kept in memory only.
       */
      key_file: v.optional(NonEmpty),
      /** How long after a job settled its values are kept (a late flush is still masked); then deleted. */
      forget_after: v.optional(Duration, "5m"),
    }),
    {},
  ),
});

export type ConfigInput = v.InferInput<typeof ConfigSchema>;
export type Config = v.InferOutput<typeof ConfigSchema>;
