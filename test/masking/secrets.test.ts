// The registered secrets of jobs over a real SQLite state: registration, repeats, limits, forgetting.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { AppError } from "../../src/errors.ts";
import { checkSecrets, createSecrets, MAX_SECRETS_PER_JOB } from "../../src/masking/secrets.ts";
import { openSqliteState } from "../../src/state/sqlite/open.ts";
import { tempDir } from "../support/server.ts";

async function withState<T>(fn: (state: ReturnType<typeof openSqliteState>) => Promise<T>): Promise<T> {
  using dir = tempDir();
  const state = openSqliteState(join(dir.path, "s.db"));
  try {
    return await fn(state);
  } finally {
    await state.close();
  }
}

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? { status: e.status, code: e.code, message: e.message } : e;
  }
  return null;
};

describe("registered secrets", () => {
  test("a value registered twice or repeated in one list counts once; the masker masks every one", () =>
    withState(async (state) => {
      const s = await createSecrets({ repo: state.secrets, vault: null });
      expect(await s.add("j", ["value-aaaa", "value-aaaa", "value-bbbb"])).toEqual({ added: 2, count: 2 });
      expect(await s.add("j", ["value-bbbb"])).toEqual({ added: 0, count: 2 });
      expect(s.push("j")!("a value-aaaa b value-bbbb")).toBe("a *** b ***");
      expect([s.push("other"), s.status("j")]).toEqual([null, { count: 2, state: "ok" }]);
    }));

  test("a job holds at most MAX_SECRETS_PER_JOB values; the list that would pass it is refused whole", () =>
    withState(async (state) => {
      const s = await createSecrets({ repo: state.secrets, vault: null });
      const many = Array.from({ length: MAX_SECRETS_PER_JOB }, (_, i) => `value-${i}-padding`);
      expect((await s.add("j", many)).count).toBe(MAX_SECRETS_PER_JOB);
      await expect(s.add("j", ["one-more-value"])).rejects.toThrow(
        `job j may hold at most ${MAX_SECRETS_PER_JOB} secrets (it has ${MAX_SECRETS_PER_JOB}, 1 new)`,
      );
      expect(s.status("j")).toEqual({ count: MAX_SECRETS_PER_JOB, state: "ok" });
    }));

  test("checkSecrets names a refused value by its position, never by its content", () => {
    expect(refusal(() => checkSecrets(["long-enough", "x".repeat(20_000)]))).toEqual({
      status: 400,
      code: "invalid_secret",
      message: "secrets[1]: a secret may be at most 16384 bytes of UTF-8 (got 20000)",
    });
    expect(refusal(() => checkSecrets(["long-enough", "   "]))).toMatchObject({ code: "invalid_secret" });
  });

  test("forgotten values refuse the job's lines with 409 and stay forgotten across a restart; dropped jobs are gone", () =>
    withState(async (state) => {
      const s = await createSecrets({ repo: state.secrets, vault: null });
      await s.add("j", ["value-aaaa"]);
      await s.add("k", ["value-bbbb"]);
      await s.forget("j");
      await s.drop("k");
      const again = await createSecrets({ repo: state.secrets, vault: null });
      expect([refusal(() => again.push("j")), again.status("j"), again.status("k")]).toEqual([
        {
          status: 409,
          code: "secrets_forgotten",
          message:
            "job j ended and its 1 registered secrets were deleted (masking.forget_after); a later line can no longer be masked, so it is refused",
        },
        { count: 1, state: "forgotten" },
        null,
      ]);
      expect(again.event("j")).toBe("withheld");
    }));
});
