// Reads in process: ETags and 304 on finished logs, compression, and the since/until/q/re filters on every read form.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestApp, type TestApp } from "../support/app.ts";
import { untilEvent } from "../support/wait.ts";

const line = (ts: string, text: string, stream = "stdout") => ({ ts, stream, line: text });
const at = (s: number, frac = "") => `2025-02-12T10:00:${String(s).padStart(2, "0")}${frac}Z`;

async function pushed(app: TestApp, id: string, step: string, lines: object[]): Promise<void> {
  const res = await app.post(`/worker/jobs/${id}/logs`, { step_name: step, lines });
  expect(res.status).toBe(200);
}

/** Completes a job and waits until its completion work has run (the point its reads get an ETag). */
async function finished(app: TestApp, id: string): Promise<void> {
  expect((await app.post(`/worker/jobs/${id}/complete`, { status: "completed" })).status).toBe(200);
  await untilEvent(app.events, "settled", `job ${id} settled`, async () => {
    const job = (await (await app.request(`/api/jobs/${id}`)).json()) as { settled: boolean };
    return job.settled;
  });
}

const texts = (jsonl: string) =>
  jsonl
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { line: string }).line);

describe("ETag", () => {
  test("a finished log's reads carry one, and If-None-Match answers 304 without a body, for GET and HEAD", async () => {
    await using app = await startTestApp();
    await pushed(app, "j1", "build", [line(at(1), "one"), line(at(2), "two")]);
    await finished(app, "j1");
    const paths = [
      "/api/jobs/j1/logs",
      "/api/jobs/j1/logs?format=ndjson",
      "/api/jobs/j1/steps/build/logs?tail=1",
      "/api/jobs/j1/logs/download?format=text",
      "/api/jobs/j1/steps",
      "/api/jobs/j1/search?q=one",
    ];
    const got = [];
    for (const path of paths) {
      const first = await app.request(path);
      const tag = first.headers.get("etag");
      await first.arrayBuffer();
      const again = await app.request(path, { headers: { "if-none-match": tag ?? "" } });
      const head = await app.request(path, {
        method: "HEAD",
        headers: { "if-none-match": `"other", ${tag}` },
      });
      const stale = await app.request(path, { headers: { "if-none-match": '"j1.1.completed.local"' } });
      got.push([
        path,
        first.status,
        tag,
        first.headers.get("cache-control"),
        again.status,
        again.headers.get("etag"),
        await again.text(),
        head.status,
        stale.status,
      ]);
      await stale.arrayBuffer();
    }
    const bytes = (await (await app.request("/api/jobs/j1")).json()) as { bytes: number };
    const tag = `"j1.${bytes.bytes}.completed.local"`;
    expect(got).toEqual(paths.map((p) => [p, 200, tag, "no-cache", 304, tag, "", 304, 200]));
  });

  test("a running job's reads carry none (a poller continues from next instead)", async () => {
    await using app = await startTestApp();
    await pushed(app, "j2", "build", [line(at(1), "one")]);
    const res = await app.request("/api/jobs/j2/logs");
    const again = await app.request("/api/jobs/j2/logs", { headers: { "if-none-match": "*" } });
    expect([res.status, res.headers.get("etag"), again.status]).toEqual([200, null, 200]);
  });

  test("a late flush after the end changes the tag: the old one no longer matches", async () => {
    await using app = await startTestApp();
    await pushed(app, "j3", "build", [line(at(1), "one")]);
    await finished(app, "j3");
    const before = (await app.request("/api/jobs/j3/logs")).headers.get("etag")!;
    await pushed(app, "j3", "build", [line(at(2), "late")]);
    const res = await app.request("/api/jobs/j3/logs", { headers: { "if-none-match": before } });
    const body = (await res.json()) as { logs: string };
    expect([res.status, res.headers.get("etag") !== before, texts(body.logs)]).toEqual([
      200,
      true,
      ["one", "late"],
    ]);
  });
});

describe("compression", () => {
  async function bigJob(app: TestApp, id: string): Promise<void> {
    const lines = Array.from({ length: 500 }, (_, i) => line(at(i % 60), `line ${i} ${"x".repeat(40)}`));
    await pushed(app, id, "build", lines);
  }

  test("JSON, ndjson and downloads are gzipped when the client accepts it, and read back the same", async () => {
    await using app = await startTestApp();
    await bigJob(app, "c1");
    const got = [];
    for (const path of [
      "/api/jobs/c1/logs",
      "/api/jobs/c1/logs?format=ndjson",
      "/api/jobs/c1/logs/download",
    ]) {
      const plain = await (await app.request(path)).text();
      const res = await app.request(path, { headers: { "accept-encoding": "gzip" } });
      const zipped = new Uint8Array(await res.arrayBuffer());
      got.push([
        path,
        res.headers.get("content-encoding"),
        res.headers.get("vary"),
        res.headers.get("content-length"),
        zipped.length < plain.length / 3,
        new TextDecoder().decode(Bun.gunzipSync(zipped)) === plain,
      ]);
    }
    expect(got).toEqual(
      ["/api/jobs/c1/logs", "/api/jobs/c1/logs?format=ndjson", "/api/jobs/c1/logs/download"].map((p) => [
        p,
        "gzip",
        "Accept-Encoding",
        null,
        true,
        true,
      ]),
    );
  });

  test("not without Accept-Encoding, not under 1 KiB, not for HEAD; a compressed finished read's ETag is weak and still matches", async () => {
    await using app = await startTestApp();
    await bigJob(app, "c2");
    await finished(app, "c2");
    await pushed(app, "tiny", "build", [line(at(1), "one")]);
    const identity = await app.request("/api/jobs/c2/logs");
    // Under 1 KiB is not worth compressing (gzip made a 34-byte answer 54 bytes); a write's answer never is.
    const small = await app.request("/api/jobs/tiny/logs", { headers: { "accept-encoding": "gzip" } });
    const pushAnswer = await app.post(
      "/worker/jobs/tiny/logs",
      { step_name: "b", lines: [line(at(2), "two")] },
      {
        "accept-encoding": "gzip",
      },
    );
    const head = await app.request("/api/jobs/c2/logs", {
      method: "HEAD",
      headers: { "accept-encoding": "gzip" },
    });
    const zipped = await app.request("/api/jobs/c2/logs", { headers: { "accept-encoding": "gzip" } });
    const weak = zipped.headers.get("etag")!;
    const revalidated = await app.request("/api/jobs/c2/logs", {
      headers: { "accept-encoding": "gzip", "if-none-match": weak },
    });
    expect([
      identity.headers.get("content-encoding"),
      small.headers.get("content-encoding"),
      pushAnswer.headers.get("content-encoding"),
      head.headers.get("content-encoding"),
      weak === `W/${identity.headers.get("etag")}`,
      revalidated.status,
    ]).toEqual([null, null, null, null, true, 304]);
  });
});

describe("filters on every read form", () => {
  async function mixed(app: TestApp): Promise<void> {
    await pushed(app, "f", "build", [
      line(at(1), "compile start"),
      line(at(2, ".5"), "Error: disk"),
      line(at(2, ".500000001"), "warn: slow"),
      line(at(3), "error: net", "stderr"),
      line(at(4), "done"),
    ]);
    await pushed(app, "f", "test", [line(at(5), "ERROR in test"), line(at(6), "ok")]);
  }

  const cases: Array<[string, string[]]> = [
    [
      "since=2025-02-12T10:00:02.5Z",
      ["Error: disk", "warn: slow", "error: net", "done", "ERROR in test", "ok"],
    ],
    // Any ISO 8601 form of an instant: the same instant in another zone, and 500000000 ns written short.
    [
      "since=2025-02-12T11:00:02.500000000%2B01:00&until=2025-02-12T10:00:04Z",
      ["Error: disk", "warn: slow", "error: net"],
    ],
    ["until=2025-02-12T10:00:02.5Z", ["compile start"]],
    ["q=rror", ["Error: disk", "error: net"]],
    ["q=error&icase=true", ["Error: disk", "error: net", "ERROR in test"]],
    ["re=^(warn|done)", ["warn: slow", "done"]],
    ["re=rror&stream=stderr", ["error: net"]],
    ["q=o&since=2025-02-12T10:00:04Z", ["done", "ok"]],
  ];

  test("the JSON page, ndjson and the download give the same lines for since, until, q, re and icase", async () => {
    await using app = await startTestApp();
    await mixed(app);
    const got = [];
    for (const [query] of cases) {
      const json = (await (await app.request(`/api/jobs/f/logs?${query}`)).json()) as { logs: string };
      const ndjson = await (await app.request(`/api/jobs/f/logs?format=ndjson&${query}`)).text();
      const download = await (await app.request(`/api/jobs/f/logs/download?format=text&${query}`)).text();
      got.push([query, texts(json.logs), texts(ndjson), download.split("\n").filter((l) => l !== "")]);
    }
    expect(got).toEqual(cases.map(([q, want]) => [q, want, want, want]));
  });

  test("a step read, a tail and a limit count the filtered lines, also with a regex", async () => {
    await using app = await startTestApp();
    await mixed(app);
    const read = async (path: string) => {
      const body = (await (await app.request(path)).json()) as { logs: string; from: number; next: number };
      return [texts(body.logs), body.from, body.next];
    };
    expect([
      await read("/api/jobs/f/steps/build/logs?q=rror"),
      await read("/api/jobs/f/logs?q=o&tail=2"),
      await read("/api/jobs/f/logs?since=2025-02-12T10:00:02Z&tail=1"),
      await read("/api/jobs/f/logs?re=rror&icase=true&limit=2"),
      await read("/api/jobs/f/logs?re=rror&icase=true&limit=2&from=2"),
      await read("/api/jobs/f/logs?re=rror&icase=true&tail=2"),
      await read("/api/jobs/f/steps/build/logs?re=rror&icase=true&tail=5"),
      await read("/api/jobs/f/logs?re=^nothing&tail=2"),
    ]).toEqual([
      [["Error: disk", "error: net"], 0, 7],
      [["done", "ok"], 4, 7],
      [["ok"], 6, 7],
      [["Error: disk", "error: net"], 0, 4],
      [["error: net", "ERROR in test"], 2, 6],
      [["error: net", "ERROR in test"], 3, 7],
      [["Error: disk", "error: net"], 1, 7],
      [[], 0, 7],
    ]);
  });

  test("the live stream checks since, until and q as the reads do", async () => {
    await using app = await startTestApp();
    await mixed(app);
    const res = await app.request("/api/jobs/f/logs/stream?q=o&since=2025-02-12T10:00:04Z&until=x");
    expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([
      400,
      'until: expected an ISO 8601 timestamp such as 2025-02-12T10:56:45Z (got "x")',
    ]);
  });

  test("a legacy .log: q looks in the raw text, a time window keeps nothing (its lines carry no time)", async () => {
    await using app = await startTestApp();
    writeFileSync(join(app.dir, "old.log"), "boot ok\nerror: fan\nbye\n");
    const q = (await (await app.request("/api/jobs/old/logs?q=error")).json()) as {
      logs: string;
      source: string;
    };
    const since = (await (await app.request("/api/jobs/old/logs?since=2025-01-01T00:00:00Z")).json()) as {
      logs: string;
    };
    const re = await (await app.request("/api/jobs/old/logs/download?re=^b")).text();
    expect([q.source, q.logs, since.logs, re]).toEqual(["legacy", "error: fan\n", "", "boot ok\nbye\n"]);
  });

  test("bad filters are 400s naming them, before anything is read", async () => {
    await using app = await startTestApp();
    await mixed(app);
    const got = [];
    for (const query of [
      "since=yesterday",
      "since=2025-02-12T10:00:05Z&until=2025-02-12T10:00:05Z",
      "q=a&re=b",
      "re=(",
      "q=",
    ]) {
      const res = await app.request(`/api/jobs/f/logs?${query}`);
      got.push([query, res.status, ((await res.json()) as { error: string }).error]);
    }
    expect(got).toEqual([
      [
        "since=yesterday",
        400,
        'since: expected an ISO 8601 timestamp such as 2025-02-12T10:56:45Z (got "yesterday")',
      ],
      [
        "since=2025-02-12T10:00:05Z&until=2025-02-12T10:00:05Z",
        400,
        "since must be before until: the window [since, until) holds no instant",
      ],
      ["q=a&re=b", 400, "q and re cannot be combined: q is a text, re a regular expression"],
      ["re=(", 400, expect.stringMatching(/^re: not a valid regular expression: /) as never],
      ["q=", 400, "q: must not be empty"],
    ]);
  });
});
