import { expect, test } from "bun:test";
import { encodeRecord } from "../../src/shipper/batch.ts";
import { createSender } from "../../src/shipper/sender.ts";
import { openSpool, spoolDirOf } from "../../src/shipper/spool.ts";
import { tempDir } from "../support/server.ts";

const DEADLINE_MS = 10_000;

/** A server that records each push's lines and answers it only when the test releases it. */
function gatedServer() {
  const pushes: string[][] = [];
  const gates: PromiseWithResolvers<void>[] = [];
  const arrived: PromiseWithResolvers<void>[] = [];
  const slot = (list: PromiseWithResolvers<void>[], i: number) => {
    while (list.length <= i) list.push(Promise.withResolvers<void>());
    return list[i]!;
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = (await req.json()) as { lines: { line: string }[] };
      const i = pushes.length;
      pushes.push(body.lines.map((l) => l.line));
      slot(arrived, i).resolve();
      await slot(gates, i).promise;
      return Response.json({ first: 0, next: 0 });
    },
  });
  const within = <T>(what: string, p: Promise<T>) =>
    Promise.race([
      p,
      Bun.sleep(DEADLINE_MS).then(() => {
        throw new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
      }),
    ]);
  return {
    url: `http://127.0.0.1:${server.port}`,
    pushes,
    arrived: (i: number) => within(`push ${i}`, slot(arrived, i).promise),
    release: (i: number) => slot(gates, i).resolve(),
    [Symbol.dispose]: () => server.stop(true),
  };
}

function start(url: string, dir: string, flushIntervalMs: number) {
  const spool = openSpool({ dir: spoolDirOf(dir, "j", "s"), maxBytes: 1 << 20 });
  const sender = createSender({
    spool,
    base: url,
    headers: {},
    job: "j",
    step: "s",
    flushIntervalMs,
    maxBodyBytes: 1 << 20,
    requestTimeoutMs: DEADLINE_MS,
    retryMaxMs: 1000,
    spoolMax: 1 << 20,
    report: () => {},
  });
  const print = (...lines: string[]) => {
    spool.append(lines.map((l) => encodeRecord("2025-02-12T10:56:45.123Z", "stdout", l)));
    sender.notify();
  };
  return { spool, sender, print };
}

test("a line goes at once when no push is in flight, and lines printed during a push go together right after it", async () => {
  using server = gatedServer();
  using tmp = tempDir();
  const { spool, sender, print } = start(server.url, tmp.path, 0);
  print("a");
  await server.arrived(0);
  print("b");
  print("c", "d");
  server.release(0);
  await server.arrived(1);
  server.release(1);
  expect(await sender.drain(DEADLINE_MS)).toBe(true);
  spool.close();
  expect(server.pushes).toEqual([["a"], ["b", "c", "d"]]);
});

test("at the end of input what waits is sent at once, inside --flush-interval of the last push", async () => {
  using server = gatedServer();
  using tmp = tempDir();
  const { spool, sender, print } = start(server.url, tmp.path, 60_000);
  server.release(0);
  server.release(1);
  print("a");
  await server.arrived(0);
  print("b");
  const drained = sender.drain(DEADLINE_MS);
  await server.arrived(1);
  expect(await drained).toBe(true);
  spool.close();
  expect(server.pushes).toEqual([["a"], ["b"]]);
});
