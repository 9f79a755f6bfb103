/**
 * Uploads from the event path S3 -> SQS -> Lambda: each SQS message body is an S3 event notification
 * ({"Records": [...]}), or S3's one-off s3:TestEvent when the notification is configured.
 */
import type { S3EventRecord } from "aws-lambda";

export interface UploadEvent {
  bucket: string;
  /** Decoded (S3 sends keys URL-encoded with '+' for spaces). */
  key: string;
  versionId?: string;
  etag?: string;
  size?: number;
  sequencer?: string;
  eventName: string;
  eventTime?: string;
}

export class BadMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadMessageError";
  }
}

/**
 * A key as S3 writes it into event notifications: URL-encoded (form style: "+" for a space, "%2B" for "+",
 * UTF-8 percent escapes for anything else but letters, digits, "/" and - _ . ! ~ * ' ( )). Servers that
 * emit events themselves (the local S3 server) encode with this, so that `decodeS3Key`, the one decoder,
 * gets what S3 sends. `decodeS3Key(encodeS3Key(k)) === k` for every key.
 */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/");
}

/** The key an S3 event notification names (the inverse of encodeS3Key; a malformed escape is kept as it is). */
export function decodeS3Key(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return raw;
  }
}

export function uploadFromRecord(r: S3EventRecord): UploadEvent {
  const o = r.s3?.object;
  const bucket = r.s3?.bucket?.name;
  if (!o?.key || !bucket) throw new BadMessageError("an S3 record without bucket or key");
  return {
    bucket,
    key: decodeS3Key(o.key),
    eventName: r.eventName ?? "",
    ...(o.versionId && o.versionId !== "null" ? { versionId: o.versionId } : {}),
    ...(o.eTag ? { etag: o.eTag } : {}),
    ...(typeof o.size === "number" ? { size: o.size } : {}),
    ...(o.sequencer ? { sequencer: o.sequencer } : {}),
    ...(r.eventTime ? { eventTime: r.eventTime } : {}),
  };
}

/** The S3 records in one SQS message body ([] for S3's test event). ingestUpload ignores all but ObjectCreated. */
export function uploadsFromMessage(body: string): UploadEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BadMessageError(`not JSON: ${body.slice(0, 80)}`);
  }
  const msg = parsed as { Event?: string; Records?: S3EventRecord[] };
  if (msg.Event === "s3:TestEvent") return [];
  if (!Array.isArray(msg.Records)) throw new BadMessageError("no Records in the message");
  return msg.Records.filter((r) => r.eventSource === "aws:s3").map(uploadFromRecord);
}
