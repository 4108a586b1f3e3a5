// The jobs list's page cursor: opaque to clients, the keyset (created_at, id) of the last job of a page.
import { badRequest } from "../errors.ts";
import { JOB_ID } from "../protocol/ids.ts";

export interface ListCursor {
  created_at: number;
  id: string;
}

export function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.created_at, c.id])).toString("base64url");
}

/** The cursor a `next_cursor` carried; anything else is a 400 (a cursor is not a thing to edit). */
export function decodeCursor(text: string): ListCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    value = null;
  }
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === "string" &&
    JOB_ID.test(value[1])
  ) {
    return { created_at: value[0] as number, id: value[1] };
  }
  throw badRequest(
    `cursor: not a cursor this server gave (got ${JSON.stringify(text.slice(0, 64))}): pass next_cursor from a previous page as is`,
    "invalid_cursor",
  );
}
