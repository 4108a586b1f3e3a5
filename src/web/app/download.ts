// Downloads: a plain link when no token is needed (the browser streams it to disk); with a token the file is
// fetched with the Bearer header and saved from memory — a token never goes into a URL.
import { request, token } from "./api.ts";
import { filenameOf } from "./links.ts";

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
