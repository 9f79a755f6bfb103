/**
 * Child process running s3rver on 127.0.0.1: the S3-compatible server of the tests, the benchmarks and the
 * local stack (started by storage/localS3.ts and local/s3server.ts). It must live in another process: the
 * ranged-read bridge blocks the calling thread in Atomics.wait, so a server on that thread's event loop could
 * never answer. On a given port (0: ephemeral), so that it can be stopped and started again at the same
 * address (the data stays in its directory).
 *
 * What it adds to s3rver (docs/local.md):
 *   - a request filter in front of s3rver's routes: a bucket or key that would name a file outside its place
 *     (".." or "." segments, empty segments, backslashes, control characters: ingest/keys.ts unsafeKeyReason)
 *     is refused with 400 InvalidArgument, in the path and in x-amz-copy-source;
 *   - atomic object replacement (below);
 *   - events shaped as S3 sends them: keys URL-encoded (ingest/events.ts encodeS3Key), and a sequencer
 *     derived from the object file's modification time (nanoseconds), the same for an event and for a
 *     listing of the object: the local stack's start-up rescan delivers an upload whose event was lost under
 *     the same idempotency key as the event itself.
 *
 * argv[2]: JSON {directory, buckets, port}. Messages to the parent: {type: "ready", port}, {type: "event",
 * event}, {type: "listed", id, objects, truncated} | {type: "listed", id, error}. From the parent: {type:
 * "close"}, {type: "list", id, bucket, prefix, startAfter, maxKeys}. Exits on "close" or when the parent
 * goes away.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import S3rver from "s3rver";
import { encodeS3Key } from "../ingest/events.js";
import { refusedRequest } from "./keyFilter.js";

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
  // path-style addressing only (the clients use http://127.0.0.1:port/bucket/key): no bucket from the Host header
  vhostBuckets: false,
});

interface StoredObject { bucket: string; key: string; content: Buffer | NodeJS.ReadableStream; metadata: Record<string, string> }
interface Store {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
  listObjects(bucket: string, o: { prefix?: string; startAfter?: string; maxKeys?: number }): Promise<{ objects: { key: string; metadata: Record<string, string> }[]; isTruncated: boolean }>;
}
const store = (server as unknown as { store: Store }).store;

/** The S3 event sequencer of an object version: its file's modification time in ns, 16+ hex digits. */
function sequencerOf(mtimeNs: bigint): string {
  return mtimeNs.toString(16).toUpperCase().padStart(16, "0");
}
/** Modification times of objects just written (bucket, key -> md5 and mtime), until their event is sent. */
const written = new Map<string, { md5: string; mtimeNs: bigint }>();
const slot = (bucket: string, key: string) => `${bucket}\n${key}`;

/**
 * S3 replaces an object atomically: a reader gets the old or the new version, whole. s3rver truncates and
 * rewrites the file in place, so a GET racing a PUT of the same key (a client polling progress.json while
 * the worker updates it) can announce the old length and stall on the shorter new content. Objects are
 * written to a temporary file beside the target and renamed into place instead.
 */
store.putObject = async function putObject(object: StoredObject) {
  const target = this.getResourcePath(object.bucket, object.key, "object");
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${crypto.randomUUID()}`;
  const md5 = crypto.createHash("md5");
  let size = 0;
  let mtimeNs = 0n;
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
    // the temporary file is this request's alone: its time is this version's (a rename keeps it)
    mtimeNs = (await fs.promises.stat(tmp, { bigint: true })).mtimeNs;
    await fs.promises.rename(tmp, target);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  const digest = md5.digest("hex");
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  if (written.size > 10_000) written.clear(); // events lost somehow: never grow without bound
  written.set(slot(object.bucket, object.key), { md5: digest, mtimeNs });
  return { size, md5: digest };
};

/** The sequencer of an event: from the write it reports (same content), else from the object's file. */
async function eventSequencer(bucket: string, key: string, etag: string | undefined): Promise<string | undefined> {
  const w = written.get(slot(bucket, key));
  written.delete(slot(bucket, key));
  if (w && (!etag || w.md5 === etag)) return sequencerOf(w.mtimeNs);
  return fileSequencer(bucket, key);
}

async function fileSequencer(bucket: string, key: string): Promise<string | undefined> {
  try {
    return sequencerOf((await fs.promises.stat(store.getResourcePath(bucket, key, "object"), { bigint: true })).mtimeNs);
  } catch {
    return undefined; // gone meanwhile (a delete event)
  }
}

interface EventRecord { s3?: { bucket?: { name?: string }; object?: { key?: string; eTag?: string; sequencer?: string } } }
// Sent one at a time, in the order s3rver emitted them.
let sending: Promise<void> = Promise.resolve();
server.on("event", (event: { Records?: EventRecord[] }) => {
  sending = sending.then(async () => {
    for (const r of event.Records ?? []) {
      const o = r.s3?.object;
      const bucket = r.s3?.bucket?.name;
      if (!o?.key || !bucket) continue;
      const sequencer = await eventSequencer(bucket, o.key, o.eTag);
      if (sequencer) o.sequencer = sequencer;
      o.key = encodeS3Key(o.key);
    }
    send({ type: "event", event });
  }).then(() => undefined, (err: unknown) => {
    process.stderr.write(`local S3: an event was lost: ${(err as Error).message}\n`);
  });
});

/** 400 InvalidArgument, as S3 answers a malformed request (s3rver's error type renders it as S3 does). */
const S3Error = createRequire(import.meta.url)("s3rver/lib/models/error.js") as new (code: string, message: string, detail?: Record<string, string>) => Error;
interface KoaContext { path: string; get(header: string): string }
type Middleware = (ctx: KoaContext, next: () => Promise<unknown>) => unknown;
const middleware = (server as unknown as { middleware: Middleware[] }).middleware;
const routes = middleware.findIndex((m) => m.name === "dispatch");
if (routes < 0) throw new Error("local S3: s3rver's router was not found: cannot install the key filter");
middleware.splice(routes, 0, function refuseUnsafeKeys(ctx, next) {
  const copy = ctx.get("x-amz-copy-source");
  const why = refusedRequest(ctx.path, copy || undefined);
  if (why) throw new S3Error("InvalidArgument", why, { ArgumentName: "key" });
  return next();
});

/** One page of a bucket's objects with their sequencers (the stack's start-up rescan). */
async function listPage(bucket: string, prefix: string, startAfter: string, maxKeys: number) {
  const page = await store.listObjects(bucket, { prefix, startAfter, maxKeys: Math.max(1, Math.min(1000, maxKeys)) });
  const objects: { key: string; etag: string; size: number; sequencer: string }[] = [];
  for (const o of page.objects) {
    const sequencer = await fileSequencer(bucket, o.key);
    if (!sequencer) continue;
    objects.push({ key: o.key, etag: String(o.metadata.etag ?? "").replace(/"/g, ""), size: Number(o.metadata["content-length"] ?? 0), sequencer });
  }
  return { objects, truncated: page.isTruncated, last: page.objects.length ? page.objects[page.objects.length - 1].key : null };
}

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
process.on("message", (m: { type?: string; id?: number; bucket?: string; prefix?: string; startAfter?: string; maxKeys?: number }) => {
  if (m?.type === "close") void close();
  else if (m?.type === "list") {
    listPage(m.bucket ?? "", m.prefix ?? "", m.startAfter ?? "", m.maxKeys ?? 1000).then(
      (page) => send({ type: "listed", id: m.id, ...page }),
      (err: unknown) => send({ type: "listed", id: m.id, error: (err as Error).message }),
    );
  }
});
process.on("disconnect", () => void close());
