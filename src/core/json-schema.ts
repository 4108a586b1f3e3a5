// Valibot schemas as JSON Schema (draft 2020-12, OpenAPI 3.1's dialect): the kinds and checks this API uses.
import type * as v from "valibot";

export type JsonSchema = Record<string, unknown>;

type AnySchema = v.BaseSchema<unknown, unknown, v.BaseIssue<unknown>> & {
  type: string;
  entries?: Record<string, AnySchema>;
  wrapped?: AnySchema;
  item?: AnySchema;
  options?: readonly unknown[];
  literal?: unknown;
  pipe?: readonly { kind: string; type: string; requirement?: unknown }[];
};

/**
 * The request side of a schema: what a client must send. A transform's output is not described (a query's
 * `Count` is a string of digits on the wire, whatever it becomes). A `check` (a predicate) has no JSON
 * Schema form and is left out: the description is looser there than the server. A kind this converter does
 * not know throws, so a new schema cannot slip into the description as "anything".
 */
export function toJsonSchema(schema: v.GenericSchema): JsonSchema {
  return convert(schema as unknown as AnySchema).schema;
}

/** The schema, and whether a transform ran in it (what follows checks the output, not what is sent). */
function convert(s: AnySchema): { schema: JsonSchema; transformed: boolean } {
  if (s.pipe === undefined) return { schema: base(s), transformed: false };
  // A pipe's first item is its schema (itself perhaps a pipe): its own checks come first.
  const inner = convert(s.pipe[0] as unknown as AnySchema);
  const out = inner.schema;
  if (inner.transformed) return inner;
  for (const action of s.pipe.slice(1)) {
    const r = action.requirement;
    if (action.type === "transform" || action.type === "raw_transform")
      return { schema: out, transformed: true };
    switch (action.type) {
      case "min_length":
        out[out.type === "array" ? "minItems" : "minLength"] = r;
        break;
      case "max_length":
        out[out.type === "array" ? "maxItems" : "maxLength"] = r;
        break;
      case "non_empty":
        out[out.type === "array" ? "minItems" : "minLength"] = 1;
        break;
      case "regex":
        out.pattern = (r as RegExp).source;
        break;
      case "min_value":
        out.minimum = r;
        break;
      case "max_value":
        out.maximum = r;
        break;
      case "integer":
        out.type = "integer";
        break;
      case "check":
        break;
      default:
        throw new Error(`toJsonSchema: no JSON Schema form for the valibot action ${action.type}`);
    }
  }
  return { schema: out, transformed: false };
}

function base(s: AnySchema): JsonSchema {
  switch (s.type) {
    case "string":
      return { type: "string" };
    case "number":
      return { type: "number" };
    case "boolean":
      return { type: "boolean" };
    case "null":
      return { type: "null" };
    case "literal":
      return { const: s.literal };
    case "picklist":
    case "enum":
      return { enum: [...(s.options ?? [])] };
    case "array":
      return { type: "array", items: toJsonSchema(s.item as v.GenericSchema) };
    case "nullable":
    case "nullish":
      return { anyOf: [toJsonSchema(s.wrapped as v.GenericSchema), { type: "null" }] };
    case "optional":
    case "exact_optional":
      return toJsonSchema(s.wrapped as v.GenericSchema);
    case "union":
    case "variant":
      return { anyOf: (s.options as v.GenericSchema[]).map(toJsonSchema) };
    case "object":
    case "strict_object":
    case "loose_object": {
      const properties: Record<string, JsonSchema> = {};
      const required: string[] = [];
      for (const [k, e] of Object.entries(s.entries ?? {})) {
        properties[k] = toJsonSchema(e as unknown as v.GenericSchema);
        if (!isOptional(e)) required.push(k);
      }
      return {
        type: "object",
        properties,
        ...(required.length > 0 ? { required } : {}),
        ...(s.type === "strict_object" ? { additionalProperties: false } : {}),
      };
    }
    default:
      throw new Error(`toJsonSchema: no JSON Schema form for the valibot schema ${s.type}`);
  }
}

/** Whether an object entry may be left out. */
export function isOptional(s: unknown): boolean {
  const t = (s as AnySchema).type;
  return t === "optional" || t === "exact_optional" || t === "nullish";
}
