// The Strøm API client (src/strom/client.ts) against the Strøm stand-in over real HTTP: job detail, `_server`
// events, "may this caller read", its cache, and clear errors when Strøm is down, slow or refuses our token.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateConfig } from "../../src/config/load.ts";
import { createStromClient, type StromClientOptions, stromClientFromConfig } from "../../src/strom/client.ts";
import { tempDir } from "../support/server.ts";
import { startStrom } from "../support/strom.ts";

const options = (url: string, token: string | null, extra: Partial<StromClientOptions> = {}) => ({
  apiUrl: url,
  token,
  requestTimeoutMs: 2000,
  authCacheTtlMs: 30_000,
  authCacheNegativeTtlMs: 5000,
  authCacheSize: 100,
  ...extra,
});

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: { name: string; reason: string; message: string }) => ({
      name: e.name,
      reason: e.reason,
      message: e.message,
    }),
  );

describe("the Strøm client", () => {
  test("getJob reads Strøm's job detail — workspace, task, created_at as Strøm printed it, status mapped — and null for a job Strøm does not know", async () => {
    await using strom = await startStrom();
    const svc = strom.addUser({ email: "svc@x", is_admin: true });
    const job = strom.addJob({
      workspace: "infra",
      task_name: "deploy/eu",
      created_at: "2025-02-12T10:56:45.123456+00:00",
      status: "running",
    });
    const key = strom.apiKey(svc);
    const client = createStromClient(options(strom.url, key));
    const running = await client.getJob(job.job_id);
    strom.setStatus(job.job_id, "cancelled");
    const ended = await client.getJob(job.job_id);
    expect({
      running,
      ended: [ended?.status, ended?.terminal, ended?.completedAt instanceof Date],
      unknown: await client.getJob(crypto.randomUUID()),
      notStroms: await client.getJob("build-42"),
    }).toEqual({
      running: {
        id: job.job_id,
        workspace: "infra",
        task: "deploy/eu",
        createdAtText: "2025-02-12T10:56:45.123456+00:00",
        createdAt: new Date("2025-02-12T10:56:45.123Z"),
        status: "running",
        stromStatus: "running",
        terminal: false,
        completedAt: null,
      },
      ended: ["cancelled", true, true],
      unknown: null,
      notStroms: null,
    });
    // stroem-logs' own key, as a Bearer header, on every question.
    expect(new Set(strom.requests.map((r) => r.authorization))).toEqual(new Set([`Bearer ${key}`]));
  });

  test("serverEvents returns Strøm's own _server lines byte for byte, [] when it has none, null for an unknown job", async () => {
    await using strom = await startStrom({ auth: false });
    const job = strom.addJob({ status: "running" });
    const client = createStromClient(options(strom.url, null));
    const none = await client.serverEvents(job.job_id);
    const a = strom.serverEvent(job.job_id, "Job cancelled by admin@x");
    const b = strom.serverEvent(job.job_id, "[hooks] Hook 'notify' failed: exit 1");
    expect({
      none,
      some: await client.serverEvents(job.job_id),
      unknown: await client.serverEvents(crypto.randomUUID()),
      auth: strom.requests.map((r) => r.authorization),
    }).toEqual({ none: [], some: [a, b], unknown: null, auth: [null, null, null] });
  });

  test("mayRead forwards the caller's Authorization: allowed by the ACL, denied as a 404, a bad credential as Strøm's 401", async () => {
    await using strom = await startStrom({
      acl: { rules: [{ workspace: "infra", action: "view", users: ["viewer@x"] }] },
    });
    const viewer = strom.addUser({ email: "viewer@x" });
    const outsider = strom.addUser({ email: "outsider@x" });
    const job = strom.addJob({ workspace: "infra", status: "running" });
    const client = createStromClient(options(strom.url, null));
    const ask = (auth: string, id = job.job_id) => client.mayRead(auth, id);
    expect({
      jwt: await ask(`Bearer ${strom.jwt(viewer)}`),
      key: await ask(`Bearer ${strom.apiKey(viewer)}`),
      outsider: await ask(`Bearer ${strom.jwt(outsider)}`),
      unknownJob: await ask(`Bearer ${strom.jwt(viewer)}`, crypto.randomUUID()),
      expired: await ask(`Bearer ${strom.jwt(viewer, { expiresInSec: -120 })}`),
      badKey: await ask("Bearer strm_00000000000000000000000000000000"),
      scheme: await ask(`bearer ${strom.jwt(viewer)}`),
    }).toEqual({
      jwt: { verdict: "allow" },
      key: { verdict: "allow" },
      outsider: { verdict: "deny" },
      unknownJob: { verdict: "deny" },
      expired: { verdict: "unauthenticated", message: "Invalid or expired token" },
      badKey: { verdict: "unauthenticated", message: "Invalid API key" },
      scheme: { verdict: "unauthenticated", message: "Authentication required" },
    });
  });

  test("mayRead asks Strøm once per credential and job while the answer is fresh; a refusal is kept shorter than a grant", async () => {
    await using strom = await startStrom({
      acl: { rules: [{ workspace: "infra", action: "view", users: ["viewer@x"] }] },
    });
    const viewer = strom.addUser({ email: "viewer@x" });
    const outsider = strom.addUser({ email: "outsider@x" });
    const job = strom.addJob({ workspace: "infra", status: "running" });
    let t = 1_000_000;
    const client = createStromClient(options(strom.url, null, { now: () => t }));
    const yes = `Bearer ${strom.apiKey(viewer)}`;
    const no = `Bearer ${strom.apiKey(outsider)}`;
    const asked = () => strom.requests.length;
    // Concurrent polls of one pane (the UI's panes) share one question.
    await Promise.all([client.mayRead(yes, job.job_id), client.mayRead(yes, job.job_id)]);
    await client.mayRead(no, job.job_id);
    const first = asked();
    t += 4000;
    await client.mayRead(yes, job.job_id);
    await client.mayRead(no, job.job_id);
    const within = asked();
    t += 2000; // 6 s: past the refusal's 5 s, inside the grant's 30 s
    await client.mayRead(yes, job.job_id);
    await client.mayRead(no, job.job_id);
    const after = asked();
    t += 30_000;
    await client.mayRead(yes, job.job_id);
    expect([first, within, after, asked()]).toEqual([2, 2, 3, 4]);
  });

  test("a grant for a JWT is never reused past the JWT's own expiry", async () => {
    await using strom = await startStrom();
    const user = strom.addUser({ email: "u@x" });
    const job = strom.addJob({ status: "running" });
    let t = Date.now();
    const client = createStromClient(options(strom.url, null, { now: () => t, authCacheTtlMs: 600_000 }));
    // Strøm accepts an exp up to 60 s past (jsonwebtoken's leeway): 10 s left on it, and 20 s later still valid there.
    const auth = `Bearer ${strom.jwt(user, { expiresInSec: 10 })}`;
    await client.mayRead(auth, job.job_id);
    t += 20_000;
    await client.mayRead(auth, job.job_id);
    expect(strom.requests.length).toBe(2);
  });

  test("Strøm down: getJob and serverEvents fail with a StromError naming the URL, mayRead answers unavailable and is not cached, and all recover once Strøm is back", async () => {
    await using strom = await startStrom({ auth: false });
    const job = strom.addJob({ status: "running" });
    const client = createStromClient(options(strom.url, null));
    await strom.down();
    const job404 = await rejection(client.getJob(job.job_id));
    const events = await rejection(client.serverEvents(job.job_id));
    const read = await client.mayRead("Bearer x", job.job_id);
    await strom.up();
    expect({
      job404,
      events: events?.reason,
      read: read.verdict,
      message: read.verdict === "unavailable" && read.message.includes(strom.url),
      back: (await client.getJob(job.job_id))?.id,
      readBack: await client.mayRead("Bearer x", job.job_id),
    }).toEqual({
      job404: {
        name: "StromError",
        reason: "unreachable",
        message: `GET ${strom.url}/api/jobs/${job.job_id}: Strøm is unreachable (ECONNREFUSED)`,
      },
      events: "unreachable",
      read: "unavailable",
      message: true,
      back: job.job_id,
      readBack: { verdict: "allow" },
    });
  });

  test("a Strøm that does not answer is abandoned after request_timeout, and one that refuses our token says so", async () => {
    // A server that takes every request and never answers.
    const hung = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>(() => {}) });
    await using strom = await startStrom();
    try {
      const slow = createStromClient(
        options(`http://127.0.0.1:${hung.port}`, null, { requestTimeoutMs: 200 }),
      );
      const refused = createStromClient(options(strom.url, "strm_ffffffffffffffffffffffffffffffff"));
      const id = crypto.randomUUID();
      expect({
        slow: await rejection(slow.getJob(id)),
        slowRead: await slow.mayRead("Bearer x", id),
        refused: await rejection(refused.getJob(id)),
      }).toEqual({
        slow: {
          name: "StromError",
          reason: "timeout",
          message: `GET http://127.0.0.1:${hung.port}/api/jobs/${id}: Strøm did not answer within 200 ms (strom.request_timeout)`,
        },
        slowRead: {
          verdict: "unavailable",
          message: `GET http://127.0.0.1:${hung.port}/api/jobs/${id}: Strøm did not answer within 200 ms (strom.request_timeout)`,
        },
        refused: {
          name: "StromError",
          reason: "refused",
          message: `GET ${strom.url}/api/jobs/${id}: Strøm refused strom.token (401 Invalid API key): it must be a valid strm_ key of a user who may view every job`,
        },
      });
    } finally {
      hung.stop(true);
    }
  });

  test("a Strøm body without the fields stroem-logs needs is a bad_answer naming the field", async () => {
    const odd = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        Response.json({ job_id: "x", workspace: "w", status: "running", created_at: "2025-02-12T10:56:45Z" }),
    });
    try {
      const client = createStromClient(options(`http://127.0.0.1:${odd.port}`, null));
      expect(await rejection(client.getJob("x"))).toEqual({
        name: "StromError",
        reason: "bad_answer",
        message: `GET http://127.0.0.1:${odd.port}/api/jobs/x: unexpected body from Strøm: task_name: missing`,
      });
    } finally {
      odd.stop(true);
    }
  });

  test("the strom config section: defaults, token_file read once, token and token_file exclusive, api_url without a path", async () => {
    await using strom = await startStrom();
    const svc = strom.addUser({ email: "svc@x", is_admin: true });
    const job = strom.addJob({ status: "running" });
    using dir = tempDir();
    const file = join(dir.path, "strom-token");
    writeFileSync(file, `${strom.apiKey(svc)}\n`);
    const config = validateConfig({ strom: { api_url: `${strom.url}/`, token_file: file } }, "test");
    const client = stromClientFromConfig(config.strom!);
    const refusal = (tree: Record<string, unknown>) => {
      try {
        validateConfig(tree, "test");
        return "accepted";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect({
      section: { ...config.strom!, token_file: "-" },
      job: (await client.getJob(job.job_id))?.id,
      both: refusal({ strom: { api_url: strom.url, token: "a", token_file: file } }),
      path: refusal({ strom: { api_url: `${strom.url}/api` } }),
    }).toEqual({
      section: {
        api_url: strom.url,
        token_file: "-",
        request_timeout: 5000,
        poll_interval: 5000,
        late_events: 120_000,
        auth_cache_ttl: 30_000,
        auth_cache_negative_ttl: 5000,
        auth_cache_size: 10_000,
      },
      job: job.job_id,
      both: expect.stringContaining("strom: set token or token_file, not both"),
      path: expect.stringContaining("expected http(s)://HOST[:PORT] with no path"),
    });
  });
});
