// What the page reads out of links and headers — pure functions.
import { statusOfReason } from "../../protocol/close.ts";

/** `#L1234` → line 1233 (links count from 1, as people do; the API's numbers from 0). */
export function lineFromHash(hash: string): number | null {
  const m = /^#L(\d+)$/.exec(hash);
  return m ? Math.max(0, Number(m[1]) - 1) : null;
}

/** The file name of a `Content-Disposition` (the RFC 5987 form first). */
export function filenameOf(header: string | null): string | null {
  if (header === null) return null;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) return decodeURIComponent(star[1]!);
  const plain = /filename="([^"]*)"/i.exec(header);
  return plain ? plain[1]! : null;
}

/** Wait before reconnect attempt `attempt` (0-based): 100 ms doubling to 5 s. */
export const retryDelay = (attempt: number): number => Math.min(5000, 100 * 2 ** attempt);

/** A normal close with `job <status>` ends the stream; every other close is a drop to resume from. */
export function endOf(code: number, reason: string): string | null {
  return code === 1000 ? statusOfReason(reason) : null;
}
