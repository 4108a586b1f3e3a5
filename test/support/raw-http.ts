// Test support: an HTTP/1.1 request written by hand on a raw socket, a piece at a time, for what fetch cannot
// send (a body that stalls, a body held half-sent); `answer` resolves with the raw answer once it is whole (its
// headers and Content-Length bytes) or the connection closes.
export interface RawConnection {
  write(data: string | Uint8Array): void;
  answer: Promise<string>;
  end(): void;
}

export async function rawConnection(url: string): Promise<RawConnection> {
  const { port } = new URL(url);
  const { promise: answer, resolve } = Promise.withResolvers<string>();
  let reply = "";
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: Number(port),
    socket: {
      data(_s, chunk) {
        reply += chunk.toString();
        const end = reply.indexOf("\r\n\r\n");
        const length = /\r\ncontent-length: (\d+)/i.exec(reply)?.[1];
        if (end !== -1 && length !== undefined && reply.length >= end + 4 + Number(length)) resolve(reply);
      },
      close: () => resolve(reply),
    },
  });
  return { write: (data) => void socket.write(data), answer, end: () => socket.end() };
}
