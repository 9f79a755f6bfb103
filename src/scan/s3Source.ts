/**
 * An S3 object as a synchronous `RandomAccessSource`, so the validator (and HDF5 through it) reads a scan
 * by ranged GETs without ever downloading it.
 *
 * HDF5 (h5wasm) reads synchronously; the AWS SDK is asynchronous. `S3RangeReader` bridges the two with one
 * worker thread that owns an S3 client: the calling thread posts a request (bucket, key, version, byte range)
 * on a MessageChannel and blocks in `Atomics.wait`; the worker performs the GET, streams the body straight
 * into a SharedArrayBuffer, stores the byte count and wakes the caller with `Atomics.notify`. Errors come
 * back as a message read synchronously with `receiveMessageOnPort`. No byte is copied twice and nothing is
 * written to disk.
 *
 * `S3RangeSource` never throws from `readInto`: a failed read returns 0 bytes (HDF5 then fails or sees
 * zeros) and is recorded in `source.error`. Whoever validates through it must check `error` afterwards and
 * treat the result as void (a transient S3 failure is not a corrupt scan).
 *
 * Put a `PagedSource` (byteSource.ts) in front for caching; the validator does.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { FetchStats, RandomAccessSource } from "./byteSource.js";

/** Serialisable S3 client settings (they cross to the worker thread). */
export interface S3ClientSettings {
  region?: string;
  /** A custom endpoint (an S3-compatible server, LocalStack); path-style addressing is then used. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Static credentials; absent: the SDK's default chain (the Lambda's role in AWS). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Flexible checksums. WHEN_REQUIRED is needed against s3rver (it stores aws-chunked uploads corrupted
   * otherwise); AWS itself works with either.
   */
  checksums?: "WHEN_REQUIRED" | "WHEN_SUPPORTED";
  /** SDK attempts per request (retries of 5xx, throttling and network errors). Default 4. */
  maxAttempts?: number;
  /** Time to connect, ms (default 10 s). */
  connectTimeoutMs?: number;
  /** Longest a request's socket may stay silent, ms (default 60 s): a server that never answers fails the request. */
  idleTimeoutMs?: number;
}

/** One version of one object. */
export interface S3ObjectRef {
  bucket: string;
  key: string;
  /** The version to read (versioned buckets); absent: the current object, pinned by `etag` when given. */
  versionId?: string;
  /** Pins the reads to this content when there is no version id (If-Match). */
  etag?: string;
  size: number;
}

export function s3Uri(ref: { bucket: string; key: string; versionId?: string }): string {
  return `s3://${ref.bucket}/${ref.key}${ref.versionId ? `?versionId=${ref.versionId}` : ""}`;
}

/** A request from the calling thread to the worker. */
export interface RangeRequest {
  seq: number;
  bucket: string;
  key: string;
  versionId?: string;
  etag?: string;
  start: number;
  length: number;
  data: SharedArrayBuffer;
}

/** Control words shared with the worker (Int32Array over a SharedArrayBuffer). */
export const CONTROL = { state: 0, bytes: 1, seq: 2, words: 4 } as const;
/** `state` values. */
export const STATE = { waiting: 0, done: 1, failed: 2 } as const;

/** Thrown when a ranged read fails: the message names the object and the range. */
export class S3ReadError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = "S3ReadError";
  }
}

/**
 * The compiled worker script. Beside this module when it runs as JavaScript (dist/, or the Lambda bundle
 * where both sit at the bundle root); from dist/ when this module runs from TypeScript sources (vitest, tsx),
 * since a worker thread cannot load TypeScript.
 */
export function rangeWorkerUrl(moduleUrl: string = import.meta.url): URL {
  const here = fileURLToPath(moduleUrl);
  if (!here.endsWith(".ts")) return new URL("./s3ReadWorker.js", moduleUrl);
  let dir = path.dirname(here);
  while (!existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`S3 range reader: no package.json above ${here}; cannot locate the compiled worker`);
    dir = up;
  }
  const script = path.join(dir, "dist", "src", "scan", "s3ReadWorker.js");
  if (!existsSync(script)) {
    throw new Error(`S3 range reader: compiled worker ${script} not found (running from TypeScript sources): run npm run build`);
  }
  return pathToFileURL(script);
}

export interface RangeReaderOptions {
  /** Longest wait for one ranged GET, including the SDK's retries (default 60 s). */
  timeoutMs?: number;
  /** The worker script (default: `rangeWorkerUrl()`). */
  workerUrl?: URL;
}

/**
 * Synchronous ranged reads of S3 objects through one worker thread. Reusable across objects and calls
 * (the Lambda keeps one per container); `close()` ends the worker. Not re-entrant: one read at a time.
 */
export class S3RangeReader {
  /** Totals over this reader's life. */
  readonly stats: FetchStats = { bytesFetched: 0, requests: 0 };
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  private control: Int32Array | null = null;
  private data: SharedArrayBuffer | null = null;
  private seq = 0;
  private readonly timeoutMs: number;
  /** Set when the worker thread fails (seen only once this thread runs its event loop again). */
  private workerError: Error | null = null;

  constructor(
    readonly settings: S3ClientSettings = {},
    private readonly options: RangeReaderOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  private start(): void {
    const controlBuf = new SharedArrayBuffer(CONTROL.words * 4);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(this.options.workerUrl ?? rangeWorkerUrl(), {
      workerData: { settings: this.settings, control: controlBuf, port: port2 },
      transferList: [port2],
      execArgv: [],
    });
    worker.unref();
    // A worker that dies leaves the caller waiting until its timeout; record why it died.
    worker.on("error", (err) => {
      this.workerError = err;
    });
    this.worker = worker;
    this.port = port1;
    this.control = new Int32Array(controlBuf);
  }

  /**
   * Reads `target.length` bytes of `ref` from `position` (fewer at the end of the object).
   * Returns the number of bytes read. Throws S3ReadError on failure.
   */
  read(ref: S3ObjectRef, position: number, target: Uint8Array): number {
    const length = Math.min(target.length, ref.size - position);
    if (length <= 0) return 0;
    if (!this.worker) this.start();
    if (!this.data || this.data.byteLength < length) this.data = new SharedArrayBuffer(Math.max(length, 1 << 20));
    const control = this.control!;
    const seq = ++this.seq;
    Atomics.store(control, CONTROL.state, STATE.waiting);
    const req: RangeRequest = {
      seq, bucket: ref.bucket, key: ref.key, start: position, length, data: this.data,
      ...(ref.versionId ? { versionId: ref.versionId } : {}),
      ...(ref.etag ? { etag: ref.etag } : {}),
    };
    this.port!.postMessage(req);
    const waited = Atomics.wait(control, CONTROL.state, STATE.waiting, this.timeoutMs);
    const what = `${s3Uri(ref)} bytes ${position}-${position + length - 1}`;
    if (waited === "timed-out") {
      // The worker may still write into the buffer later: start afresh on the next read.
      const cause = this.workerError ? `: worker failed: ${this.workerError.message}` : " (network, or the read worker did not start)";
      this.close();
      throw new S3ReadError(`${what}: no answer within ${this.timeoutMs} ms${cause}`, "Timeout");
    }
    const state = Atomics.load(control, CONTROL.state);
    if (Atomics.load(control, CONTROL.seq) !== seq) {
      this.close();
      throw new S3ReadError(`${what}: out-of-order answer from the read worker`);
    }
    if (state === STATE.failed) {
      const msg = receiveMessageOnPort(this.port!)?.message as { seq: number; message: string; code?: string } | undefined;
      throw new S3ReadError(`${what}: ${msg?.message ?? "failed"}`, msg?.code);
    }
    const n = Atomics.load(control, CONTROL.bytes);
    target.set(new Uint8Array(this.data, 0, n));
    this.stats.requests += 1;
    this.stats.bytesFetched += n;
    return n;
  }

  close(): void {
    this.port?.close();
    void this.worker?.terminate();
    this.worker = null;
    this.port = null;
    this.control = null;
    this.data = null;
    this.workerError = null;
  }
}

/**
 * One S3 object version as a RandomAccessSource. Counts its own requests and bytes; a failed read returns
 * 0 and is kept in `error` (see the module note). `close()` leaves the shared reader open.
 */
export class S3RangeSource implements RandomAccessSource {
  readonly stats: FetchStats = { bytesFetched: 0, requests: 0 };
  /** The first read failure, if any: the bytes HDF5 saw are then not the object's. */
  error: S3ReadError | null = null;
  readonly name: string;

  constructor(
    private readonly reader: S3RangeReader,
    readonly ref: S3ObjectRef,
  ) {
    this.name = s3Uri(ref);
  }

  get size(): number {
    return this.ref.size;
  }

  readInto(position: number, target: Uint8Array): number {
    if (this.error || position >= this.ref.size || target.length === 0) return 0;
    try {
      const n = this.reader.read(this.ref, position, target);
      this.stats.requests += 1;
      this.stats.bytesFetched += n;
      return n;
    } catch (err) {
      this.error = err instanceof S3ReadError ? err : new S3ReadError(String((err as Error)?.message ?? err));
      return 0;
    }
  }

  close(): void {}
}
