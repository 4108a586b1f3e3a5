// Start-up baseline: the smallest Bun.serve program that answers /healthz, compiled like stroem-logs.
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (req) =>
    new URL(req.url).pathname === "/healthz"
      ? Response.json({ status: "ok" })
      : new Response("not found", { status: 404 }),
});
console.log(`listening on http://127.0.0.1:${server.port}`);
