import { describe, expect, test } from "bun:test";
import { createLogger, type LoggerOptions } from "../src/log.ts";

function capture(opts: LoggerOptions = {}) {
  const lines: string[] = [];
  const log = createLogger({
    clock: () => Date.UTC(2025, 1, 12, 10, 56, 45, 123),
    ...opts,
    write: (l) => lines.push(l),
  });
  return { log, lines };
}

describe("service log", () => {
  test("text lines keep today's form, level first, with fields as key=value (quoted when needed)", () => {
    const { log, lines } = capture();
    log.info("readyz: ready");
    log.warn("archive slow", {
      job: "j1",
      waiting: 3,
      target: "s3://b at http://x",
      empty: "",
      skip: undefined,
    });
    expect(lines).toEqual([
      "info: readyz: ready",
      'warn: archive slow job=j1 waiting=3 target="s3://b at http://x" empty=""',
    ]);
  });

  test("a field cannot break the line: newlines and quotes are escaped", () => {
    const { log, lines } = capture();
    log.info("x", { job: 'a\nb"c' });
    expect(lines).toEqual(['info: x job="a\\nb\\"c"']);
  });

  test("json lines carry time, level, msg and fields, one object a line", () => {
    const { log, lines } = capture({ settings: { format: "json" } });
    log.info("listening", { port: 8080 });
    log.warn("plain");
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { time: "2025-02-12T10:56:45.123Z", level: "info", msg: "listening", fields: { port: 8080 } },
      { time: "2025-02-12T10:56:45.123Z", level: "warn", msg: "plain" },
    ]);
  });

  test("an error keeps its cause chain, in text and in json", () => {
    const root = Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
    const err = new Error("append to job j failed", { cause: root });
    const text = capture();
    text.log.error("push failed", err, { job: "j" });
    const [first, ...rest] = text.lines[0]!.split("\n");
    expect(first).toBe("error: push failed job=j");
    expect(rest[0]).toBe("Error: append to job j failed");
    expect(rest.filter((l) => l.startsWith("caused by: "))).toEqual([
      "caused by: Error: ENOSPC: no space left on device",
    ]);

    const json = capture({ settings: { format: "json" } });
    json.log.error("push failed", err);
    const entry = JSON.parse(json.lines[0]!);
    expect(json.lines[0]!.includes("\n")).toBe(false);
    expect({
      msg: entry.msg,
      level: entry.level,
      type: entry.error.type,
      message: entry.error.message,
      stack: typeof entry.error.stack,
      cause: { ...entry.error.cause, stack: typeof entry.error.cause.stack },
    }).toEqual({
      msg: "push failed",
      level: "error",
      type: "Error",
      message: "append to job j failed",
      stack: "string",
      cause: { type: "Error", message: "ENOSPC: no space left on device", code: "ENOSPC", stack: "string" },
    });
  });

  test("a thrown value that is not an Error is logged as its text", () => {
    const { log, lines } = capture();
    log.error("odd", "just a string");
    expect(lines).toEqual(["error: odd\njust a string"]);
  });

  test("the level hides what is below it; configure changes it at once", () => {
    const { log, lines } = capture({ settings: { level: "warn" } });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    log.configure({ format: "text", level: "debug", access: false });
    log.debug("d2");
    expect(lines).toEqual(["warn: w", "error: e", "debug: d2"]);
  });

  test("under journald every line starts with its priority, the lines of a stack included", () => {
    const { log, lines } = capture({ journal: true, settings: { level: "debug" } });
    log.debug("d");
    log.info("i");
    log.warn("w");
    const e = new Error("boom");
    e.stack = "Error: boom\n    at f (x.ts:1:1)";
    log.error("failed", e);
    expect(lines).toEqual([
      "<7>debug: d",
      "<6>info: i",
      "<4>warn: w",
      "<3>error: failed\n<3>Error: boom\n<3>    at f (x.ts:1:1)",
    ]);
  });

  test("the access log writes only when on, whatever the level", () => {
    const { log, lines } = capture({ settings: { level: "error" } });
    expect(log.access()).toBe(null);
    log.configure({ format: "text", level: "error", access: true });
    log.access()?.({ method: "GET", route: "/api/jobs/:id/logs", status: 200, bytes: 12 });
    expect(lines).toEqual(["info: access method=GET route=/api/jobs/:id/logs status=200 bytes=12"]);
  });
});
