// Strøm mode: a read carrying a Strøm credential (a JWT or a `strm_` key) is authorised by Strøm itself.
import { AppError } from "../errors.ts";
import type { StromClient } from "../strom/client.ts";

/** The job reads a Strøm caller may make: anything under `/api/jobs/{id}/` (logs, steps, stream, the viewer's). */
const JOB_READ = /^\/api\/jobs\/([^/]+)\/.+/;

/** A Strøm credential by its form: `strm_` + 32 hex (auth.rs:143-151), or a JWT's three base64url parts. */
export function isStromCredential(token: string): boolean {
  return /^strm_[0-9a-f]{32}$/.test(token) || /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}

/**
 * The job a Strøm caller asks to read, when this request is one Strøm may authorise; else null (stroem-logs'
 * own tokens decide, as without Strøm mode).
 */
export function stromReadTarget(method: string, path: string, token: string | null): string | null {
  if ((method !== "GET" && method !== "HEAD") || token === null || !isStromCredential(token)) return null;
  return JOB_READ.exec(path)?.[1] ?? null;
}

/**
 * Asks Strøm (`GET /api/jobs/{id}` with the caller's credential, cached) and answers as Strøm's log handlers
 * would: allowed → on to the route; unknown or denied → 404 "Job not found" (Strøm cannot tell them apart
 * either); a bad credential → Strøm's 401, so its UI refreshes the JWT and retries; Strøm down → 503.
 */
export async function authoriseByStrom(
  strom: Pick<StromClient, "mayRead">,
  jobId: string,
  token: string,
): Promise<void> {
  const r = await strom.mayRead(`Bearer ${token}`, jobId);
  switch (r.verdict) {
    case "allow":
      return;
    case "deny":
      throw new AppError(404, "job_not_found", "Job not found");
    case "unauthenticated":
      throw new AppError(401, "strom_unauthenticated", r.message, {
        "WWW-Authenticate": 'Bearer realm="stroem"',
      });
    case "unavailable":
      throw new AppError(
        503,
        "strom_unavailable",
        `cannot ask Strøm whether this caller may read job ${jobId}: ${r.message}`,
        { "Retry-After": "5" },
      );
  }
}
