/**
 * Child process running s3rver on 127.0.0.1: the S3-compatible server of the tests, the benchmarks and the
 * local stack (started by storage/localS3.ts and local/s3server.ts). It must live in another process: the
 * ranged-read bridge blocks the calling thread in Atomics.wait, so a server on that thread's event loop could
 * never answer. On a given port (0: ephemeral), so that it can be stopped and started again at the same
 * address (the data stays in its directory).
 *
 * argv[2]: JSON {directory, buckets, port}. Messages to the parent: {type: "ready", port}, {type: "event",
 * event}. Exits on {type: "close"} or when the parent goes away.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import S3rver from "s3rver";

interface Args {
  directory: string;
  buckets: string[];
  port: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
const send = (m: unknown) => process.send?.(m);
const server = new S3rver({
  address: "127.0.0.1",
  port: args.port ?? 0,
  silent: true,
  directory: args.directory,
  configureBuckets: args.buckets.map((name) => ({ name })),
});
server.on("event", (event: unknown) => send({ type: "event", event }));

/**
 * S3 replaces an object atomically: a reader gets the old or the new version, whole. s3rver truncates and
 * rewrites the file in place, so a GET racing a PUT of the same key (a client polling progress.json while
 * the worker updates it) can announce the old length and stall on the shorter new content. Objects are
 * written to a temporary file beside the target and renamed into place instead.
 */
interface StoredObject { bucket: string; key: string; content: Buffer | NodeJS.ReadableStream; metadata: Record<string, string> }
interface Store {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}
const store = (server as unknown as { store: Store }).store;
store.putObject = async function putObject(object: StoredObject) {
  const target = this.getResourcePath(object.bucket, object.key, "object");
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${crypto.randomUUID()}`;
  const md5 = crypto.createHash("md5");
  let size = 0;
  try {
    if (Buffer.isBuffer(object.content)) {
      md5.update(object.content);
      size = object.content.length;
      await fs.promises.writeFile(tmp, object.content);
    } else {
      await pipeline(object.content, new Transform({
        transform(chunk: Buffer, _enc, done) {
          md5.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }), fs.createWriteStream(tmp));
    }
    await fs.promises.rename(tmp, target);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  const digest = md5.digest("hex");
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
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
