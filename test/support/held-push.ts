// Test support: a push whose body is held half-sent on a raw socket, so the server is handling it (its handler
// awaits the rest) while the test does something else; `finish` sends the rest and resolves with the answer.
import { rawConnection } from "./raw-http.ts";
import { waitFor } from "./wait.ts";

export interface HeldPush {
  /** Sends the rest of the body; resolves with the raw HTTP answer. */
  finish(): Promise<string>;
}

/**
 * POSTs `body` to `path` on `url`, all but its second half, and resolves once the server counts it among the
 * requests it is handling (`stroem_logs_http_requests_in_flight`, the scrape itself being the other one).
 */
export async function heldPush(url: string, path: string, body: string): Promise<HeldPush> {
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  const conn = await rawConnection(url);
  conn.write(
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`,
  );
  conn.write(bytes.subarray(0, half));
  await waitFor("the held push to be counted in flight", async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return /\nstroem_logs_http_requests_in_flight 2\n/.test(text);
  });
  return {
    async finish() {
      conn.write(bytes.subarray(half));
      const text = await conn.answer;
      conn.end();
      return text;
    },
  };
}
