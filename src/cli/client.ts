// The HTTP client of the CLI commands: server URL and token from flags or the environment.
import { UsageError } from "../errors.ts";
import { errorOfText } from "../protocol/error-body.ts";

export interface ClientOptions {
  server?: string | undefined;
  token?: string | undefined;
}

export interface Client {
  base: string;
  headers: Record<string, string>;
  request(method: string, path: string, body?: unknown): Promise<Response>;
}

export function createClient(
  opts: ClientOptions,
  env: Record<string, string | undefined> = process.env,
): Client {
  const base = (opts.server ?? env.STROEM_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
  if (!/^https?:\/\//.test(base)) throw new UsageError(`--server: expected an http(s) URL (got ${base})`);
  const token = opts.token ?? env.STROEM_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    base,
    headers,
    async request(method, path, body) {
      try {
        return await fetch(`${base}${path}`, {
          method,
          headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (e) {
        throw new ServerError(`cannot reach ${base}: ${(e as Error).message}`);
      }
    },
  };
}

/** The server said no (or could not be reached): exit 1 with its message. */
export class ServerError extends Error {
  override name = "ServerError";
}

export async function failOf(res: Response): Promise<ServerError> {
  return new ServerError(`server answered ${res.status}: ${errorOfText(await res.text(), 200).message}`);
}
