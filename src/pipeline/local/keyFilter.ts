/**
 * The local S3 server's request filter (local/s3Child.ts installs it in front of s3rver's routes): s3rver
 * keeps each object as a file, joining the bucket and the key's segments to its directory, so a key with a
 * ".." segment names another user's file (or one outside the data directory). Such requests are refused
 * with 400 InvalidArgument before s3rver sees them; the same rule as the upload handler's
 * (ingest/keys.ts unsafeKeyReason). docs/local.md, "Keys".
 */
import { unsafeKeyReason } from "../ingest/keys.js";

/** S3's bucket naming rule (3 to 63 lower-case letters, digits, dots and hyphens). */
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function decodedOrNull(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** Why a request's bucket or key is refused, or null (the path as s3rver's router decodes it). */
export function refusedRequest(pathname: string, copySource: string | undefined): string | null {
  const check = (p: string, what: string): string | null => {
    const raw = p.replace(/^\//, "");
    if (!raw) return null;
    const cut = raw.indexOf("/");
    const bucket = decodedOrNull(cut < 0 ? raw : raw.slice(0, cut));
    if (bucket === null || !BUCKET_RE.test(bucket) || bucket.includes("..")) return `${what}: the bucket name ${JSON.stringify(bucket ?? raw)} is not a valid bucket name`;
    if (cut < 0 || cut === raw.length - 1) return null;
    const key = decodedOrNull(raw.slice(cut + 1));
    if (key === null) return `${what}: the key ${JSON.stringify(raw.slice(cut + 1))} is not valid percent-encoded UTF-8`;
    const why = unsafeKeyReason(key);
    return why ? `${what}: the key ${JSON.stringify(key)} has ${why}; keys are paths of files here, so . and .. segments, empty segments, backslashes and control characters are refused` : null;
  };
  return check(pathname, "request") ?? (copySource !== undefined ? check(copySource.split("?")[0], "x-amz-copy-source") : null);
}

