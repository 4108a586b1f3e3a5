// A request body as a JSON object: strict UTF-8, then JSON, then an object — each refusal a 400 naming which.
import { badRequest } from "../errors.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A body's bytes as a JSON object: 400 for invalid UTF-8, an empty body, invalid JSON or another JSON value. */
export function parseJsonObject(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw badRequest("request body is not valid UTF-8", "invalid_json");
  }
  if (text.trim() === "") throw badRequest("request body is empty: expected a JSON object", "invalid_json");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`, "invalid_json");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const got = Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
    throw badRequest(`body: expected a JSON object (got ${got})`, "invalid_body");
  }
  return value;
}
