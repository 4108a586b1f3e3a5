// The error body every refusal carries, `{"error": "...", "code": "..."}`, read back by the CLI and the shipper.

export interface ErrorBody {
  message: string;
  code: string | null;
}

/**
 * What an answer's body says went wrong: its `error` and `code`, or — for whatever else answered (a proxy's
 * HTML page, an empty body) — the first `maxChars` characters of the text.
 */
export function errorOfText(text: string, maxChars = 300): ErrorBody {
  try {
    const body = JSON.parse(text) as { error?: unknown; code?: unknown };
    if (typeof body?.error === "string") {
      return { message: body.error, code: typeof body.code === "string" ? body.code : null };
    }
  } catch {}
  return { message: text.slice(0, maxChars), code: null };
}
