// The valibot → JSON Schema converter behind /openapi.json: the kinds and checks the API uses, and a loud refusal.
import { expect, test } from "bun:test";
import * as v from "valibot";
import { toJsonSchema } from "../../src/core/json-schema.ts";

test("objects, optional and nullable fields, picklists, arrays and the length and pattern checks convert", () => {
  const schema = v.strictObject({
    name: v.pipe(v.string(), v.nonEmpty(), v.maxLength(10)),
    tags: v.optional(v.pipe(v.array(v.string()), v.minLength(1), v.maxLength(3))),
    mode: v.picklist(["a", "b"]),
    note: v.optional(v.nullable(v.string())),
    count: v.pipe(v.number(), v.integer(), v.minValue(0)),
    open: v.object({ flag: v.boolean(), kind: v.literal("x") }),
  });
  expect(toJsonSchema(schema)).toEqual({
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, maxLength: 10 },
      tags: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 3 },
      mode: { enum: ["a", "b"] },
      note: { anyOf: [{ type: "string" }, { type: "null" }] },
      count: { type: "integer", minimum: 0 },
      open: {
        type: "object",
        properties: { flag: { type: "boolean" }, kind: { const: "x" } },
        required: ["flag", "kind"],
      },
    },
    required: ["name", "mode", "count", "open"],
    additionalProperties: false,
  });
});

test("checks after a transform, also in an outer pipe, describe the output and are left out", () => {
  const digits = v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number));
  expect(toJsonSchema(v.pipe(digits, v.minValue(1), v.maxValue(9)))).toEqual({
    type: "string",
    pattern: "^\\d+$",
  });
});

test("a schema kind with no JSON Schema form throws instead of being described as anything", () => {
  expect(() => toJsonSchema(v.date())).toThrow(
    "toJsonSchema: no JSON Schema form for the valibot schema date",
  );
  expect(() => toJsonSchema(v.pipe(v.string(), v.email()))).toThrow(
    "toJsonSchema: no JSON Schema form for the valibot action email",
  );
});
