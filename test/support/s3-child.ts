// The S3 server of startS3Process(): s3rver in a process of its own; its port first, then each request, as JSON lines.
import { startS3 } from "./s3.ts";

const s3 = await startS3();
const out = (msg: unknown) => process.stdout.write(`${JSON.stringify(msg)}\n`);
out({ port: s3.port, bucket: s3.bucket, directory: s3.directory });
const push = s3.requests.push.bind(s3.requests);
s3.requests.push = (...items) => {
  for (const r of items) out(r);
  return push(...items);
};
process.on("SIGTERM", async () => {
  await s3[Symbol.asyncDispose]();
  process.exit(0);
});
