/**
 * The few object-store operations the ingest path needs, behind an interface: S3 in AWS and against local
 * S3-compatible servers. Scans are only ever read here (HEAD, ranged GETs elsewhere); the only writes are
 * JSON reports under the results prefix.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { safeJson } from "../../scan/safeText.js";

export interface ObjectHead {
  bucket: string;
  key: string;
  /** Present on versioned buckets. */
  versionId?: string;
  /** Without quotes. */
  etag: string;
  size: number;
  /** User metadata (x-amz-meta-*), keys lower-case without the prefix. */
  metadata: Record<string, string>;
}

export interface TextObject {
  text: string;
  etag: string;
  versionId?: string;
  /** The object's full size (the text may be a prefix of it when the object is larger than asked for). */
  size: number;
}

export interface ObjectStore {
  /** The object (version), or null when it does not exist. */
  head(bucket: string, key: string, versionId?: string): Promise<ObjectHead | null>;
  /** At most `maxBytes` bytes of the object as UTF-8, or null when it does not exist. */
  getText(bucket: string, key: string, maxBytes: number): Promise<TextObject | null>;
  putJson(bucket: string, key: string, value: unknown): Promise<void>;
}

export function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}

const MISSING = new Set(["NotFound", "NoSuchKey", "NoSuchVersion", "NoSuchBucket"]);

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return MISSING.has(e.name ?? "") || MISSING.has(e.Code ?? "") || e.$metadata?.httpStatusCode === 404;
}

export class S3ObjectStore implements ObjectStore {
  constructor(readonly client: S3Client) {}

  async head(bucket: string, key: string, versionId?: string): Promise<ObjectHead | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
      // The version asked for, when the server does not echo it (S3 does; local servers may not).
      const version = r.VersionId ?? versionId;
      return {
        bucket, key,
        ...(version && version !== "null" ? { versionId: version } : {}),
        etag: unquote(r.ETag),
        size: r.ContentLength ?? 0,
        metadata: Object.fromEntries(Object.entries(r.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async getText(bucket: string, key: string, maxBytes: number): Promise<TextObject | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${maxBytes - 1}` }));
      const text = (await r.Body?.transformToString("utf-8")) ?? "";
      const total = /\/(\d+)$/.exec(r.ContentRange ?? "")?.[1];
      return {
        text,
        etag: unquote(r.ETag),
        ...(r.VersionId && r.VersionId !== "null" ? { versionId: r.VersionId } : {}),
        size: total !== undefined ? Number(total) : (r.ContentLength ?? text.length),
      };
    } catch (err) {
      if (isMissing(err)) return null;
      // An empty object has no byte 0: S3 answers 416 to any range.
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return { text: "", etag: "", size: 0 };
      throw err;
    }
  }

  async putJson(bucket: string, key: string, value: unknown): Promise<void> {
    await this.client.send(new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${safeJson(value, 2)}\n`, // no raw control or bidi characters from keys and names (safeText.ts)
      ContentType: "application/json",
    }));
  }
}
