/**
 * S3 transfers for the worker and the command line, robust to transient failures:
 *
 * - every request is retried with exponential backoff and jitter when the failure is transient (network
 *   errors, timeouts, 5xx, throttling), on top of the SDK's own few quick attempts; a missing object,
 *   a failed precondition or a denied request fails at once;
 * - downloads stream to a file and resume from the last byte written after a failure (ranged GET), pinned
 *   to the object's version or ETag (checked on every response: some S3-compatible servers ignore If-Match);
 * - uploads above a threshold go through a multipart upload, parts in parallel, each part retried on its
 *   own; an upload that fails for good is aborted (no orphaned parts);
 * - a deadline bounds an outage: every request of one S3Transfer shares one failure clock (S3Health), and
 *   once S3 has been failing for `deadlineMs` without a single success, requests stop retrying and fail
 *   with S3DeadlineError (transient: the worker exits 75 and Batch runs another attempt). A store that
 *   never answers again costs a worker that long, not the sum of every request's backoff.
 */
import fs from "node:fs";
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand, type S3Client,
} from "@aws-sdk/client-s3";
import { unquote } from "../storage/objectStore.js";

export interface RetryOptions {
  /** Attempts in all (default 8). */
  attempts: number;
  /** First backoff (default 250 ms), doubled each time, capped at maxMs (default 10 s), with jitter. */
  baseMs: number;
  maxMs: number;
  /** Told about each retry (logging). */
  onRetry?: (info: { what: string; attempt: number; delayMs: number; error: unknown }) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Stop retrying once S3 has been failing this long (ms), counted on `health` (else from this call's first failure). */
  deadlineMs?: number;
  /** The failure clock shared by the requests of one transfer. */
  health?: S3Health;
  now?: () => number;
}

/** Since when S3 has been failing without a single success in between (null: it answers). */
export class S3Health {
  failingSince: number | null = null;
  succeeded(): void {
    this.failingSince = null;
  }
  failed(now: number): void {
    this.failingSince ??= now;
  }
  failingForMs(now: number): number {
    return this.failingSince === null ? 0 : Math.max(0, now - this.failingSince);
  }
}

/** About 26 s of backoff in all: rides out a restarting endpoint or a brief network loss. */
export const DEFAULT_RETRY: RetryOptions = { attempts: 8, baseMs: 250, maxMs: 10_000 };

/** An S3 failure that stayed transient through every retry (the worker exits with the retryable code). */
export class TransientS3Error extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = "TransientS3Error";
  }
}

/** S3 has been failing for longer than the retry deadline: nothing more is tried (transient: exit 75). */
export class S3DeadlineError extends TransientS3Error {
  constructor(message: string, readonly failingForMs: number, readonly deadlineMs: number, cause?: unknown) {
    super(message, cause);
    this.name = "S3DeadlineError";
  }
}

/** The message of a deadline error: how long, which bound, where it is set. */
export function deadlineMessage(what: string, failingForMs: number, deadlineMs: number, last?: unknown): string {
  const s = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
  const why = last === undefined ? "" : `; last error: ${(last as Error)?.message ?? String(last)}`;
  return `${what}: S3 has been failing for ${s(failingForMs)} s, past the ${s(deadlineMs)} s bound (${S3_DEADLINE_ENV}): giving up${why}`;
}

/** The worker's retry deadline, in seconds (default DEFAULT_S3_DEADLINE_SECONDS). */
export const S3_DEADLINE_ENV = "PTYXRF_S3_DEADLINE_SECONDS";
export const DEFAULT_S3_DEADLINE_SECONDS = 180;

/** The object (version) does not exist, or no longer has the expected content. */
export class ObjectMissingError extends Error {
  constructor(message: string, readonly code: "missing" | "changed") {
    super(message);
    this.name = "ObjectMissingError";
  }
}

interface AwsishError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  cause?: { code?: string };
}

const MISSING = new Set(["NotFound", "NoSuchKey", "NoSuchVersion", "NoSuchBucket"]);
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "ENETUNREACH", "EHOSTUNREACH", "ECONNABORTED", "UND_ERR_SOCKET", "ERR_STREAM_PREMATURE_CLOSE"]);
const TRANSIENT_NAMES = new Set([
  "TimeoutError", "RequestTimeout", "RequestTimeoutException", "SlowDown", "Throttling", "ThrottlingException",
  "InternalError", "ServiceUnavailable", "RequestAbortedError", "NetworkingError",
]);

export function httpStatus(err: unknown): number | undefined {
  return (err as AwsishError)?.$metadata?.httpStatusCode;
}

export function isMissing(err: unknown): boolean {
  const e = err as AwsishError;
  return MISSING.has(e?.name ?? "") || MISSING.has(e?.Code ?? "") || httpStatus(err) === 404;
}

/** True for failures worth retrying: network errors, timeouts, throttling, 5xx. */
export function isTransient(err: unknown): boolean {
  if (err instanceof TransientS3Error) return true;
  const e = err as AwsishError;
  if (!e || typeof e !== "object") return false;
  if (e instanceof ObjectMissingError || isMissing(err)) return false;
  const status = httpStatus(err);
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (TRANSIENT_NAMES.has(e.name ?? "") || TRANSIENT_NAMES.has(e.Code ?? "")) return true;
  if (NETWORK.has(e.code ?? "") || NETWORK.has(e.cause?.code ?? "")) return true;
  if (e.$retryable) return true;
  // No HTTP answer at all (the connection failed in some other way): transient.
  return status === undefined && /socket hang up|ECONNRE|EPIPE|network|timed? ?out|premature close|aborted/i.test(e.message ?? "");
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or a transient timeout error when `signal` fires first (`onTimeout` releases what p holds). */
function withTimeout<T>(p: Promise<T>, signal: AbortSignal, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = () => {
      onTimeout();
      reject(new TransientS3Error("read timed out"));
    };
    if (signal.aborted) return fail();
    signal.addEventListener("abort", fail, { once: true });
    p.then((v) => {
      signal.removeEventListener("abort", fail);
      resolve(v);
    }, (err: unknown) => {
      signal.removeEventListener("abort", fail);
      reject(err);
    });
  });
}

export async function withRetry<T>(what: string, fn: (attempt: number) => Promise<T>, options: Partial<RetryOptions> = {}): Promise<T> {
  const o = { ...DEFAULT_RETRY, ...options };
  const sleep = o.sleep ?? defaultSleep;
  const random = o.random ?? Math.random;
  const now = o.now ?? Date.now;
  const health = o.health ?? new S3Health();
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn(attempt);
      health.succeeded();
      return value;
    } catch (err) {
      if (err instanceof S3DeadlineError || !isTransient(err)) throw err;
      health.failed(now());
      const failingFor = health.failingForMs(now());
      if (o.deadlineMs !== undefined && failingFor >= o.deadlineMs) throw new S3DeadlineError(deadlineMessage(what, failingFor, o.deadlineMs, err), failingFor, o.deadlineMs, err);
      if (attempt >= o.attempts) {
        throw new TransientS3Error(`${what}: still failing after ${attempt} attempts: ${(err as Error)?.message ?? String(err)}`, err);
      }
      let delayMs = Math.round(Math.min(o.maxMs, o.baseMs * 2 ** (attempt - 1)) * (0.75 + 0.5 * random()));
      // the last try comes at the deadline, not after it
      if (o.deadlineMs !== undefined) delayMs = Math.max(0, Math.min(delayMs, o.deadlineMs - failingFor));
      o.onRetry?.({ what, attempt, delayMs, error: err });
      await sleep(delayMs);
    }
  }
}

export interface S3Location {
  bucket: string;
  key: string;
}

/** s3://bucket/key (a trailing slash kept) -> bucket and key. */
export function parseS3Uri(uri: string): S3Location | null {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m || !m[1]) return null;
  return { bucket: m[1], key: m[2] };
}

export function s3UriOf(loc: S3Location): string {
  return `s3://${loc.bucket}/${loc.key}`;
}

export type Progress = (done: number, total: number) => void;

export interface TransferOptions {
  retry?: Partial<RetryOptions>;
  /** Files at least this large are uploaded in parts (default 16 MiB). */
  multipartThreshold?: number;
  /** Part size (default 16 MiB; at least 5 MiB, raised to keep at most 10,000 parts). */
  partSize?: number;
  /** Parts in flight at once (default 4). */
  concurrency?: number;
}

export interface DownloadResult {
  bytes: number;
  etag: string;
  versionId?: string;
  metadata: Record<string, string>;
}

export interface ListedObject {
  key: string;
  size: number;
  lastModified?: Date;
}

export interface PutOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Object tags, set with the object itself (x-amz-tagging; on S3 this needs s3:PutObjectTagging too). */
  tags?: Record<string, string>;
}

/** Tags as the x-amz-tagging header wants them: a URL-encoded query string. */
export function tagging(tags: Record<string, string>): string {
  return new URLSearchParams(Object.entries(tags)).toString();
}

const MiB = 1024 * 1024;

export class S3Transfer {
  readonly retry: Partial<RetryOptions>;
  /** The failure clock of every request this transfer makes. */
  readonly health: S3Health;
  readonly multipartThreshold: number;
  readonly partSize: number;
  readonly concurrency: number;

  constructor(readonly client: S3Client, options: TransferOptions = {}) {
    this.retry = options.retry ?? {};
    this.health = options.retry?.health ?? new S3Health();
    this.multipartThreshold = options.multipartThreshold ?? 16 * MiB;
    this.partSize = Math.max(5 * MiB, options.partSize ?? 16 * MiB);
    this.concurrency = Math.max(1, options.concurrency ?? 4);
  }

  private again<T>(what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    return withRetry(what, fn, { ...this.retry, health: this.health });
  }

  /**
   * An S3DeadlineError when S3 has been failing for longer than the retry deadline (the worker stops its
   * solve on it: results it could not save are GPU time lost), else null.
   */
  outage(what = "S3"): S3DeadlineError | null {
    const deadline = this.retry.deadlineMs;
    if (deadline === undefined) return null;
    const failingFor = this.health.failingForMs((this.retry.now ?? Date.now)());
    return failingFor >= deadline ? new S3DeadlineError(deadlineMessage(what, failingFor, deadline), failingFor, deadline) : null;
  }

  /**
   * Streams an object (version) into `file`, resuming after failures. `version`: an S3 version id, or
   * `etag:<etag>` (the content must still have that ETag), or undefined (whatever is current).
   */
  async download(loc: S3Location, file: string, version?: string, onProgress?: Progress): Promise<DownloadResult> {
    const uri = s3UriOf(loc);
    const pinnedEtag = version?.startsWith("etag:") ? version.slice(5) : undefined;
    const versionId = version && !pinnedEtag ? version : undefined;
    let done = 0;
    let total = -1;
    let first: DownloadResult | null = null;
    const fh = await fs.promises.open(file, "w");
    try {
      await this.again(`GET ${uri}`, async () => {
        let r;
        try {
          r = await this.client.send(new GetObjectCommand({
            Bucket: loc.bucket, Key: loc.key,
            ...(versionId ? { VersionId: versionId } : {}),
            ...(pinnedEtag ? { IfMatch: `"${pinnedEtag}"` } : {}),
            ...(done > 0 ? { Range: `bytes=${done}-` } : {}),
          }));
        } catch (err) {
          if (isMissing(err)) throw new ObjectMissingError(`${uri}${version ? ` (${version})` : ""} does not exist`, "missing");
          if (httpStatus(err) === 412) throw new ObjectMissingError(`${uri} no longer has ETag ${pinnedEtag} (overwritten)`, "changed");
          throw err;
        }
        const etag = unquote(r.ETag);
        if (pinnedEtag && etag && etag !== pinnedEtag) {
          (r.Body as { destroy?: () => void } | undefined)?.destroy?.();
          throw new ObjectMissingError(`${uri} no longer has ETag ${pinnedEtag} (found ${etag}: overwritten)`, "changed");
        }
        if (first && etag && etag !== first.etag) throw new ObjectMissingError(`${uri} changed during the download`, "changed");
        const size = /\/(\d+)$/.exec(r.ContentRange ?? "")?.[1];
        if (total < 0) total = size !== undefined ? Number(size) : (r.ContentLength ?? 0) + done;
        first ??= {
          bytes: total, etag,
          ...(r.VersionId && r.VersionId !== "null" ? { versionId: r.VersionId } : {}),
          metadata: Object.fromEntries(Object.entries(r.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
        };
        const body = r.Body as AsyncIterable<Uint8Array> | undefined;
        if (body) {
          for await (const chunk of body) {
            await fh.write(chunk, 0, chunk.length, done);
            done += chunk.length;
            onProgress?.(done, total);
          }
        }
        if (done !== total) throw new TransientS3Error(`GET ${uri}: body ended after ${done} of ${total} bytes`);
      });
    } finally {
      await fh.close();
    }
    return first!;
  }

  /** Uploads a file: one PUT below the multipart threshold, parts above it. */
  async uploadFile(loc: S3Location, file: string, o: PutOptions & { onProgress?: Progress } = {}): Promise<{ etag: string; versionId?: string }> {
    const size = (await fs.promises.stat(file)).size;
    if (size < this.multipartThreshold) {
      const body = await fs.promises.readFile(file);
      const r = await this.putBytes(loc, body, o);
      o.onProgress?.(size, size);
      return r;
    }
    return this.multipart(loc, file, size, o);
  }

  private async multipart(loc: S3Location, file: string, size: number, o: PutOptions & { onProgress?: Progress }): Promise<{ etag: string; versionId?: string }> {
    const uri = s3UriOf(loc);
    const partSize = Math.max(this.partSize, Math.ceil(size / 10_000));
    const count = Math.ceil(size / partSize);
    const created = await this.again(`CreateMultipartUpload ${uri}`, () => this.client.send(new CreateMultipartUploadCommand({
      Bucket: loc.bucket, Key: loc.key,
      ...(o.contentType ? { ContentType: o.contentType } : {}),
      ...(o.metadata ? { Metadata: o.metadata } : {}),
      ...(o.tags ? { Tagging: tagging(o.tags) } : {}),
    })));
    const uploadId = created.UploadId!;
    const etags: string[] = new Array(count);
    let sent = 0;
    const fh = await fs.promises.open(file, "r");
    try {
      let next = 0;
      const lane = async () => {
        for (;;) {
          const i = next++;
          if (i >= count) return;
          const start = i * partSize;
          const length = Math.min(partSize, size - start);
          const buf = Buffer.alloc(length);
          const { bytesRead } = await fh.read(buf, 0, length, start);
          if (bytesRead !== length) throw new Error(`${file}: read ${bytesRead} of ${length} bytes at ${start} (file changed?)`);
          const r = await this.again(`UploadPart ${i + 1}/${count} ${uri}`, () => this.client.send(new UploadPartCommand({
            Bucket: loc.bucket, Key: loc.key, UploadId: uploadId, PartNumber: i + 1, Body: buf, ContentLength: length,
          })));
          etags[i] = r.ETag!;
          sent += length;
          o.onProgress?.(sent, size);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, count) }, lane));
      const done = await this.again(`CompleteMultipartUpload ${uri}`, async (attempt) => {
        try {
          return await this.client.send(new CompleteMultipartUploadCommand({
            Bucket: loc.bucket, Key: loc.key, UploadId: uploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          }));
        } catch (err) {
          // A retried Complete whose first try went through (the answer was lost): the object is there.
          if (attempt > 1 && (err as AwsishError).name === "NoSuchUpload") {
            const head = await this.client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
            if (head.ContentLength === size) return { ETag: head.ETag, VersionId: head.VersionId };
          }
          throw err;
        }
      });
      return { etag: unquote(done.ETag), ...(done.VersionId && done.VersionId !== "null" ? { versionId: done.VersionId } : {}) };
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId })).catch(() => undefined);
      throw err;
    } finally {
      await fh.close();
    }
  }

  async putBytes(loc: S3Location, body: Uint8Array | string, o: PutOptions = {}): Promise<{ etag: string; versionId?: string }> {
    const r = await this.again(`PUT ${s3UriOf(loc)}`, () => this.client.send(new PutObjectCommand({
      Bucket: loc.bucket, Key: loc.key, Body: body,
      ...(o.contentType ? { ContentType: o.contentType } : {}),
      ...(o.metadata ? { Metadata: o.metadata } : {}),
      ...(o.tags ? { Tagging: tagging(o.tags) } : {}),
    })));
    return { etag: unquote(r.ETag), ...(r.VersionId && r.VersionId !== "null" ? { versionId: r.VersionId } : {}) };
  }

  async putJson(loc: S3Location, value: unknown): Promise<void> {
    await this.putBytes(loc, `${JSON.stringify(value, null, 2)}\n`, { contentType: "application/json" });
  }

  /**
   * The object's bytes, or null when it does not exist. Each attempt is abandoned after `timeoutMs`
   * (default 30 s), body included, and retried: a stalled read does not hang the caller.
   */
  async getBytes(loc: S3Location, timeoutMs = 30_000): Promise<Uint8Array | null> {
    try {
      return await this.again(`GET ${s3UriOf(loc)}`, async () => {
        const abortSignal = AbortSignal.timeout(timeoutMs);
        const r = await this.client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal });
        return await withTimeout(r.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array()), abortSignal, () => (r.Body as { destroy?: () => void } | undefined)?.destroy?.());
      });
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  /**
   * At most the first `maxBytes + 1` bytes of an object (one ranged GET) and its full size, or null when it
   * does not exist: a caller that caps what it accepts never downloads more than that.
   */
  async getBytesUpTo(loc: S3Location, maxBytes: number, timeoutMs = 30_000): Promise<{ bytes: Uint8Array; size: number } | null> {
    try {
      return await this.again(`GET ${s3UriOf(loc)}`, async () => {
        const abortSignal = AbortSignal.timeout(timeoutMs);
        let r;
        try {
          r = await this.client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, Range: `bytes=0-${maxBytes}` }), { abortSignal });
        } catch (err) {
          if (httpStatus(err) === 416) return { bytes: new Uint8Array(), size: 0 }; // an empty object has no byte 0
          throw err;
        }
        const body = r.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
        // read at most maxBytes + 1 bytes even from a server that ignores the range
        const readCapped = async () => {
          const chunks: Uint8Array[] = [];
          let got = 0;
          if (body) {
            for await (const chunk of body) {
              chunks.push(chunk);
              got += chunk.length;
              if (got > maxBytes) break;
            }
          }
          body?.destroy?.();
          return Buffer.concat(chunks).subarray(0, maxBytes + 1);
        };
        const bytes = await withTimeout(readCapped(), abortSignal, () => body?.destroy?.());
        const total = /\/(\d+)$/.exec(r.ContentRange ?? "")?.[1];
        const size = total !== undefined ? Number(total) : r.ContentLength !== undefined && !r.ContentRange ? r.ContentLength : bytes.length;
        return { bytes: new Uint8Array(bytes), size };
      });
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async getJson<T = unknown>(loc: S3Location, timeoutMs = 10_000): Promise<T | null> {
    const bytes = await this.getBytes(loc, timeoutMs);
    return bytes ? (JSON.parse(Buffer.from(bytes).toString("utf8")) as T) : null;
  }

  async exists(loc: S3Location): Promise<boolean> {
    try {
      await this.again(`HEAD ${s3UriOf(loc)}`, () => this.client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: AbortSignal.timeout(10_000) }));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async delete(loc: S3Location): Promise<void> {
    await this.again(`DELETE ${s3UriOf(loc)}`, () => this.client.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key })));
  }

  /** Every object under a prefix (with a delimiter: also the common prefixes one level down). */
  async list(bucket: string, prefix: string, delimiter?: string): Promise<{ objects: ListedObject[]; prefixes: string[] }> {
    const objects: ListedObject[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.again(`LIST s3://${bucket}/${prefix}`, () => this.client.send(new ListObjectsV2Command({
        Bucket: bucket, Prefix: prefix, ...(delimiter ? { Delimiter: delimiter } : {}), ...(token ? { ContinuationToken: token } : {}),
      })));
      for (const o of r.Contents ?? []) if (o.Key) objects.push({ key: o.Key, size: o.Size ?? 0, ...(o.LastModified ? { lastModified: o.LastModified } : {}) });
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix) prefixes.push(p.Prefix);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return { objects, prefixes };
  }
}
