/**
 * The worker thread of `S3RangeReader` (s3Source.ts): performs ranged GETs and hands the bytes to the
 * blocked caller through shared memory. One request at a time (the caller is blocked while it runs).
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { workerData, type MessagePort } from "node:worker_threads";
import { CONTROL, STATE, type RangeRequest, type S3ClientSettings } from "./s3Source.js";
import { makeS3Client } from "./s3Client.js";

const { settings, control: controlBuf, port } = workerData as { settings: S3ClientSettings; control: SharedArrayBuffer; port: MessagePort };
const control = new Int32Array(controlBuf);
const s3: S3Client = makeS3Client(settings);

/** Body reads that fail mid-stream (a reset connection) are retried this many times in all. */
const BODY_ATTEMPTS = 3;

async function fetchInto(req: RangeRequest): Promise<number> {
  const out = new Uint8Array(req.data, 0, req.length);
  let lastErr: unknown;
  for (let attempt = 1; attempt <= BODY_ATTEMPTS; attempt++) {
    try {
      const res = await s3.send(new GetObjectCommand({
        Bucket: req.bucket,
        Key: req.key,
        Range: `bytes=${req.start}-${req.start + req.length - 1}`,
        ...(req.versionId ? { VersionId: req.versionId } : {}),
        ...(req.etag && !req.versionId ? { IfMatch: req.etag } : {}),
      }));
      let n = 0;
      for await (const chunk of res.Body as Readable) {
        const bytes = chunk as Uint8Array;
        const take = Math.min(bytes.length, req.length - n);
        out.set(take === bytes.length ? bytes : bytes.subarray(0, take), n);
        n += take;
        if (n >= req.length) break;
      }
      return n;
    } catch (err) {
      lastErr = err;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 4xx answers (missing object, precondition failed, access denied) do not get better.
      if (status !== undefined && status >= 400 && status < 500) break;
    }
  }
  throw lastErr;
}

function finish(seq: number, state: number, bytes: number): void {
  Atomics.store(control, CONTROL.bytes, bytes);
  Atomics.store(control, CONTROL.seq, seq);
  Atomics.store(control, CONTROL.state, state);
  Atomics.notify(control, CONTROL.state);
}

port.on("message", (req: RangeRequest) => {
  fetchInto(req).then(
    (n) => finish(req.seq, STATE.done, n),
    (err: unknown) => {
      const e = err as { name?: string; message?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      const code = e.Code ?? e.name;
      // Posted before the wake-up, so the caller finds it with receiveMessageOnPort.
      port.postMessage({ seq: req.seq, code, message: `${code ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(err)}` });
      finish(req.seq, STATE.failed, 0);
    },
  );
});
