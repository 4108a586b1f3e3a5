// The deployment recipe, run for real: Debian's nginx with docs/deploy/nginx.conf in front of the Strøm stand-in
// and a real stroem-logs, Strøm's clients' exact requests through it (issue 12, item 6).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import http from "node:http";
import { startNginx } from "../support/nginx.ts";
import { startTestServer } from "../support/server.ts";
import { startStrom } from "../support/strom.ts";
import {
  cliLogs,
  rawRequest,
  uiFetch,
  uiLiveHookV0_15_11,
  uiPane,
  uiStepLogs,
  type WorkerEntry,
  workerPush,
  workerPushBody,
  workerTimestamp,
} from "../support/strom-clients.ts";
import { DEADLINE_MS, waitFor } from "../support/wait.ts";
import { watch } from "../support/ws.ts";

const WORKER_TOKEN = "strom-worker-token";
/** A read token the CLI and UI present (Strøm's own JWTs and keys wait for Strøm mode). */
const READ_TOKEN = "strm_0123456789abcdef0123456789abcdef";
const T0 = Date.parse("2025-02-12T10:56:45.000Z");
const entries = (n: number, prefix: string, start = 0): WorkerEntry[] =>
  Array.from({ length: n }, (_, k) => {
    const i = start + k;
    return {
      timestamp: workerTimestamp(new Date(T0 + Math.floor(i / 1000) * 1000), (i % 1000) * 1_000_000 + 1),
      stream: i % 3 === 0 ? "stderr" : "stdout",
      line: `${prefix}-${i}`,
    };
  });
/** What stroem-logs (and Strøm) store for a pushed entry. */
const stored = (step: string, e: WorkerEntry) =>
  `${JSON.stringify({ ts: e.timestamp, stream: e.stream, step, line: e.line })}\n`;

/** Strøm, stroem-logs and nginx in front of both, as docs/deploy/nginx.conf wires them. */
async function deployment(overrides: Record<string, unknown> = {}) {
  const strom = await startStrom();
  const logs = await startTestServer({
    auth: { worker_token: WORKER_TOKEN, read_tokens: [READ_TOKEN] },
    ...overrides,
  });
  const nginx = await startNginx(strom.port, logs.port).catch(async (e) => {
    await logs[Symbol.asyncDispose]();
    await strom[Symbol.asyncDispose]();
    throw e;
  });
  return {
    strom,
    logs,
    nginx,
    url: nginx.url,
    /** Paths that reached Strøm. */
    stromPaths: () => strom.requests.map((r) => `${r.method} ${r.path}`),
    async [Symbol.asyncDispose]() {
      await nginx[Symbol.asyncDispose]();
      await logs[Symbol.asyncDispose]();
      await strom[Symbol.asyncDispose]();
    },
  };
}

/** The largest receive queue of nginx's connections to `port` (its upstream), from /proc/net/tcp. */
/** The sockets of `port` (nginx's side and stroem-logs' side) with their queues: what a failed wait reports. */
function socketsOf(port: number): string {
  const rows: string[] = [];
  for (const row of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = row.trim().split(/\s+/);
    if (f.length < 5) continue;
    const local = Number.parseInt(f[1]!.split(":")[1]!, 16);
    const remote = Number.parseInt(f[2]!.split(":")[1]!, 16);
    if (local !== port && remote !== port) continue;
    const [tx, rx] = f[4]!.split(":").map((h) => Number.parseInt(h, 16));
    rows.push(`${local}->${remote} state ${f[3]} tx ${tx} rx ${rx}`);
  }
  return rows.join("; ") || "none";
}

/**
 * Bytes of stroem-logs' answers held between it and nginx: what waits in stroem-logs' send queues (its
 * sockets on `port`, in any state: it closes an idle reader's connection with the rest still queued) and in
 * nginx's receive queues from it. nginx's receive queue alone stops short of 64 KiB on some runs (54 KiB, with
 * 3.9 MB waiting behind it in stroem-logs' send queue): how much payload a receive buffer holds depends on the
 * kernel's accounting of its segments. A spooling nginx drains both to nothing.
 */
function heldBetween(port: number): number {
  let held = 0;
  for (const row of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = row.trim().split(/\s+/);
    if (f.length < 5) continue;
    const local = Number.parseInt(f[1]!.split(":")[1]!, 16);
    const remote = Number.parseInt(f[2]!.split(":")[1]!, 16);
    const [tx, rx] = f[4]!.split(":").map((h) => Number.parseInt(h, 16));
    if (local === port && f[3] !== "0A") held += tx!;
    if (remote === port && f[3] === "01") held += rx!;
  }
  return held;
}

describe("the nginx recipe (docs/deploy/nginx.conf) beside Strøm", () => {
  test("the worker's push, the CLI's logs, the UI's step panes and its Server Events card go through nginx to stroem-logs byte for byte, and none reaches Strøm", async () => {
    await using d = await deployment();
    const id = crypto.randomUUID();
    const steps = ["build", "a b/c", "process[0]"];
    let want = "";
    for (const [n, step] of steps.entries()) {
      const batch = entries(5, step, n * 5);
      const r = await workerPush(d.url, WORKER_TOKEN, id, step, batch);
      expect(r.status).toBe(200);
      want += batch.map((e) => stored(step, e)).join("");
    }
    const event = await d.logs.post(
      `/api/jobs/${id}/events`,
      { message: "hook notify failed" },
      { authorization: `Bearer ${WORKER_TOKEN}` },
    );
    expect(event.status).toBe(200);
    const cli = await cliLogs(d.url, id, READ_TOKEN);
    const panes = await Promise.all(
      steps.map((step) => uiPane(() => uiStepLogs(d.url, id, step, READ_TOKEN))),
    );
    const server = await uiPane(() => uiStepLogs(d.url, id, "_server", READ_TOKEN));
    expect({
      cli: { ...cli, stdout: cli.stdout.startsWith(want) },
      panes: panes.map((p) => p.map((l) => l.line)),
      server: server.map((l) => [l.stream, l.line]),
      strom: d.stromPaths(),
    }).toEqual({
      cli: { stdout: true, stderr: "", exitCode: 0 },
      panes: steps.map((step, n) => entries(5, step, n * 5).map((e) => e.line)),
      server: [["stderr", "hook notify failed"]],
      strom: [],
    });
  });

  test("Strøm's own paths reach Strøm — the job detail, the worker's heartbeat and complete — and stroem-logs' per-job heartbeat and secrets reach stroem-logs", async () => {
    await using d = await deployment();
    const job = d.strom.addJob({ workspace: "infra", task_name: "deploy/eu", status: "running" });
    const admin = d.strom.addUser({ email: "admin@x", is_admin: true });
    const detail = (await uiFetch(d.url, `/api/jobs/${job.job_id}`, d.strom.jwt(admin))) as Record<
      string,
      unknown
    >;
    const worker = { authorization: `Bearer ${WORKER_TOKEN}`, "content-type": "application/json" };
    await rawRequest(`${d.url}/worker/heartbeat`, "POST", worker, JSON.stringify({ worker_id: job.job_id }));
    await rawRequest(`${d.url}/worker/jobs/${job.job_id}/complete`, "POST", worker, "{}");
    const beat = await rawRequest(`${d.url}/worker/jobs/${job.job_id}/heartbeat`, "POST", worker);
    const secrets = await rawRequest(
      `${d.url}/worker/jobs/${job.job_id}/secrets`,
      "POST",
      worker,
      JSON.stringify({ secrets: ["s3cr3t-value-to-mask"] }),
    );
    expect({
      detail: [detail.job_id, detail.workspace, detail.task_name, detail.status],
      strom: d.stromPaths(),
      // Only stroem-logs answers a heartbeat with its stale_after, and registers secrets.
      beat: beat.headers["stroem-stale-after-ms"] !== undefined,
      secrets: [secrets.status, JSON.parse(secrets.body).status],
    }).toEqual({
      detail: [job.job_id, "infra", "deploy/eu", "running"],
      strom: [
        `GET /api/jobs/${job.job_id}`,
        "POST /worker/heartbeat",
        `POST /worker/jobs/${job.job_id}/complete`,
      ],
      beat: true,
      secrets: [200, "ok"],
    });
  });

  test("the live stream passes nginx's upgrade: backfill, each line pushed through nginx as it comes, and the clean close at the job's end", async () => {
    await using d = await deployment();
    const id = crypto.randomUUID();
    const first = entries(3, "before");
    expect((await workerPush(d.url, WORKER_TOKEN, id, "build", first)).status).toBe(200);
    using viewer = watch(d.url, id, { token: READ_TOKEN });
    await viewer.opened;
    await viewer.waitLines(3);
    using hook = await uiLiveHookV0_15_11(d.url, id, READ_TOKEN);
    await hook.opened;
    // One line at a time, each awaited on both sockets before the next is pushed: a proxy that held
    // frames back (buffering) would stall here.
    const live = entries(20, "live", 3);
    for (const [i, e] of live.entries()) {
      expect((await workerPush(d.url, WORKER_TOKEN, id, "build", [e])).status).toBe(200);
      await viewer.waitLines(4 + i);
      await hook.waitLines(4 + i);
    }
    await d.logs.post(
      `/worker/jobs/${id}/complete`,
      { status: "completed" },
      { authorization: `Bearer ${WORKER_TOKEN}` },
    );
    const closed = await viewer.closed;
    const all = [...first, ...live].map((e) => stored("build", e)).join("");
    expect({ text: viewer.text(), hook: hook.logs(), close: [closed.code, closed.reason] }).toEqual({
      text: all,
      hook: all,
      close: [1000, "job completed"],
    });
  });

  test("an 8 MiB push passes nginx whole, and a bigger one gets stroem-logs' JSON 413, not nginx's page", async () => {
    await using d = await deployment();
    const id = crypto.randomUUID();
    const max = d.logs.config.limits.max_body_bytes;
    // Lines of 64 KiB, the last one shortened so that the body is exactly `size` bytes.
    const big = (size: number) => {
      const ts = workerTimestamp(new Date(T0), 1);
      const one = (line: string): WorkerEntry => ({ timestamp: ts, stream: "stdout", line });
      const empty = workerPushBody("build", []).length;
      const each = workerPushBody("build", [one("x".repeat(65536))]).length - empty + 1; // + its comma
      const es = Array.from({ length: Math.ceil((size - empty + 1) / each) }, () => one("x".repeat(65536)));
      const over = workerPushBody("build", es).length - size;
      es[es.length - 1] = one("x".repeat(65536 - over));
      return es;
    };
    const fits = big(max);
    expect(workerPushBody("build", fits).length).toBe(max);
    const ok = await workerPush(d.url, WORKER_TOKEN, id, "build", fits);
    const tooBig = await workerPush(d.url, WORKER_TOKEN, id, "build", big(max + 1));
    const stat = (await (
      await d.logs.fetch(`/api/jobs/${id}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } })
    ).json()) as { lines: number };
    expect({
      ok: ok.status,
      lines: stat.lines,
      tooBig: [tooBig.status, (JSON.parse(tooBig.body) as { code: string }).code],
    }).toEqual({ ok: 200, lines: fits.length, tooBig: [413, "body_too_large"] });
  }, 60_000);

  test("a 24 MiB log streams whole through nginx as ndjson, and nginx holds it back with its reader instead of spooling it", async () => {
    await using d = await deployment();
    const id = crypto.randomUUID();
    let want = "";
    for (let b = 0; b < 24; b++) {
      const batch = entries(1000, "y".repeat(1000), b * 1000);
      expect((await workerPush(d.logs.url, WORKER_TOKEN, id, "build", batch)).status).toBe(200);
      want += batch.map((e) => stored("build", e)).join("");
    }
    expect(want.length).toBeGreaterThan(24 * 1024 * 1024);
    const path = `/api/jobs/${id}/logs?format=ndjson`;
    // A reader that truly stops reading: another process (Python) with a small receive buffer (which turns
    // the kernel's autotuning off for it), that reads the status line and then never calls recv again.
    // (A paused node:http response, or even a paused node:net socket, is not enough under Bun: its client
    // may go on draining the socket into memory, and nginx then has nothing to hold back — the cause of this
    // test's failures on busy runs.)
    const { hostname, port } = new URL(d.url);
    const reader = Bun.spawn(
      [
        "python3",
        "-c",
        [
          "import socket, sys",
          "s = socket.socket()",
          "s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)",
          "s.connect((sys.argv[1], int(sys.argv[2])))",
          "s.sendall(sys.argv[3].encode())",
          "head = b''",
          "while b'\\r\\n' not in head: head += s.recv(1)",
          "print(head.split(b'\\r\\n')[0].decode(), flush=True)",
          "sys.stdin.read()",
        ].join("\n"),
        hostname,
        port,
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${READ_TOKEN}\r\n\r\n`,
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    const status = await (async () => {
      let out = "";
      for await (const chunk of reader.stdout) {
        out += new TextDecoder().decode(chunk);
        if (out.includes("\n")) return out.split("\n")[0]!;
      }
      throw new Error(`the paused reader exited (${await reader.exited}) before the status line`);
    })();
    // Paused reader: with proxy_buffering off nginx stops reading stroem-logs once the client's socket is
    // full, so stroem-logs' bytes wait in nginx's receive queue; a buffering nginx would drain them into
    // its temp files instead.
    try {
      await waitFor(
        "nginx to hold stroem-logs' answer back (the queues between them filling)",
        () => heldBetween(d.logs.port) >= 256 * 1024,
        DEADLINE_MS,
      );
    } catch (e) {
      // Failed once in five runs beside two busy loops: say where the bytes were.
      throw new Error(`${(e as Error).message}; sockets of port ${d.logs.port}: ${socketsOf(d.logs.port)}`);
    }
    // And it stays held while the reader reads nothing: a spooling nginx drains the queue into its temp
    // files within moments (24 MiB), so a queue that is merely full at one look proves nothing.
    const queues: number[] = [];
    for (const until = Date.now() + 1500; Date.now() < until; ) {
      queues.push(heldBetween(d.logs.port));
      await Bun.sleep(100);
    }
    const held = queues.every((q) => q >= 256 * 1024) ? "held back" : `drained: ${queues.join(", ")}`;
    reader.kill();
    await reader.exited;
    // And the answer is whole through nginx, read at the client's pace.
    const { promise: response, resolve, reject } = Promise.withResolvers<http.IncomingMessage>();
    const req = http.get(`${d.url}${path}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } }, resolve);
    req.on("error", reject);
    const res = await response;
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    await new Promise<void>((r, j) => {
      res.on("end", r);
      res.on("error", j);
    });
    const body = Buffer.concat(chunks).toString();
    expect({ status, code: res.statusCode, held, same: body === want, size: body.length }).toEqual({
      status: "HTTP/1.1 200 OK",
      code: 200,
      held: "held back",
      same: true,
      size: want.length,
    });
  }, 120_000);
});
