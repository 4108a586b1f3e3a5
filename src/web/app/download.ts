// Downloads: a plain link when no token is needed (the browser streams it to disk); with a token the file is
// fetched with the Bearer header and saved from memory — a token never goes into a URL.
import { request, token } from "./api.ts";

export async function download(path: string): Promise<void> {
  if (token.get() === null) {
    click(path);
    return;
  }
  const res = await request(path);
  const name = filenameOf(res.headers.get("content-disposition")) ?? "log";
  const url = URL.createObjectURL(await res.blob());
  try {
    click(url, name);
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}

function click(href: string, name?: string): void {
  const a = document.createElement("a");
  a.href = href;
  a.download = name ?? "";
  document.body.append(a);
  a.click();
  a.remove();
}

/** The file name of a `Content-Disposition` (the RFC 5987 form first). */
export function filenameOf(header: string | null): string | null {
  if (header === null) return null;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) return decodeURIComponent(star[1]!);
  const plain = /filename="([^"]*)"/i.exec(header);
  return plain ? plain[1]! : null;
}
