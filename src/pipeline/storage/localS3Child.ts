/**
 * Child process that runs s3rver (an S3-compatible server) on 127.0.0.1 at an ephemeral port. Started by
 * `startLocalS3` (localS3.ts). It must live in another process: the ranged-read bridge blocks the calling
 * thread in Atomics.wait, so a server on that thread's event loop could never answer.
 *
 * argv[2]: JSON {directory, buckets}. Messages to the parent: {type: "ready", port}, {type: "event", event}
 * (s3rver's S3 event notifications). It exits on {type: "close"} or when the parent goes away.
 */
import S3rver from "s3rver";

interface Args {
  directory: string;
  buckets: string[];
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
const send = (m: unknown) => process.send?.(m);
const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  silent: true,
  directory: args.directory,
  configureBuckets: args.buckets.map((name) => ({ name })),
});
server.on("event", (event: unknown) => send({ type: "event", event }));
const addr = await server.run();
send({ type: "ready", port: addr.port });

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  try {
    await server.close();
  } finally {
    process.exit(0);
  }
}
process.on("message", (m: { type?: string }) => {
  if (m?.type === "close") void close();
});
process.on("disconnect", () => void close());
