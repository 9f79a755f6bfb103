/**
 * Bucket layout (docs/cloud.md):
 *
 *   scans bucket     incoming/<user>/<path>.h5|.hdf5        uploads (versioned; never modified)
 *                    incoming/<user>/<path>.json            optional per-upload solver config (sidecar)
 *   results bucket   results/<user>/<path>/<upload tag>/    one folder per accepted or rejected upload:
 *                                                           rejection.json, or the worker's outputs
 *
 * The user is the first path segment under incoming/: notifications carry it as their `user` attribute.
 */
import type { Problem } from "../../scan/validate.js";

export interface Layout {
  incomingPrefix: string;
  resultsPrefix: string;
}

export const DEFAULT_LAYOUT: Layout = { incomingPrefix: "incoming/", resultsPrefix: "results/" };

export const SCAN_EXTENSIONS = [".h5", ".hdf5"] as const;
export const SIDECAR_EXTENSION = ".json";
const USER_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface UploadKey {
  user: string;
  /** The path below incoming/<user>/, e.g. "2026/run-17.h5". */
  relPath: string;
  /** relPath without its extension: names the results folder and the job. */
  stem: string;
}

export function scanExtension(key: string): string | null {
  const lower = key.toLowerCase();
  return SCAN_EXTENSIONS.find((e) => lower.endsWith(e) && key.length > e.length) ?? null;
}

/** The sidecar of a scan: the same path with .json instead of .h5/.hdf5. */
export function sidecarKey(scanKey: string): string {
  const ext = scanExtension(scanKey);
  return (ext ? scanKey.slice(0, -ext.length) : scanKey) + SIDECAR_EXTENSION;
}

/** Why a key is not processed as a scan, or null when it is one. */
export function ignoreReason(key: string, layout: Layout = DEFAULT_LAYOUT): string | null {
  if (!key.startsWith(layout.incomingPrefix)) return `outside ${layout.incomingPrefix}`;
  if (key.endsWith("/")) return "a folder marker";
  if (key.toLowerCase().endsWith(SIDECAR_EXTENSION)) return "a config sidecar (read when its scan is uploaded)";
  if (!scanExtension(key)) return `not a scan (expected a key ending in ${SCAN_EXTENSIONS.join(" or ")})`;
  return null;
}

/** User and path of a scan key, or the problem with its layout (the scan is then rejected). */
export function parseUploadKey(key: string, layout: Layout = DEFAULT_LAYOUT): { upload: UploadKey; problem: Problem | null } {
  const rest = key.slice(layout.incomingPrefix.length);
  const cut = rest.indexOf("/");
  const ext = scanExtension(key) ?? "";
  const expected = `a key ${layout.incomingPrefix}<user>/<name>${ext || ".h5"} (user: letters, digits, . _ -; at most 64)`;
  if (cut <= 0) {
    const relPath = rest;
    return {
      upload: { user: "_unknown", relPath, stem: relPath.slice(0, relPath.length - ext.length) || "scan" },
      problem: problem("key-layout", key, expected, "no user folder", "upload into your own folder: incoming/<user>/..."),
    };
  }
  const user = rest.slice(0, cut);
  const relPath = rest.slice(cut + 1);
  const stem = relPath.slice(0, relPath.length - ext.length);
  if (!USER_RE.test(user)) {
    return {
      upload: { user: "_unknown", relPath, stem: stem || "scan" },
      problem: problem("key-layout", key, expected, `the user folder "${user}"`),
    };
  }
  if (!stem || stem.endsWith("/")) {
    return { upload: { user, relPath, stem: stem || "scan" }, problem: problem("key-layout", key, expected, "no file name") };
  }
  return { upload: { user, relPath, stem }, problem: null };
}

export function problem(code: string, path: string, expected: string, found: string, hint?: string): Problem {
  return { code, path, expected, found, message: `${path}: expected ${expected}, found ${found}${hint ? ` (${hint})` : ""}` };
}

/** The results folder of one upload (key prefix in the results bucket, ending in "/"). */
export function resultPrefix(upload: UploadKey, uploadTag: string, layout: Layout = DEFAULT_LAYOUT): string {
  return `${layout.resultsPrefix}${upload.user}/${upload.stem}/${uploadTag}/`;
}

export const REJECTION_REPORT = "rejection.json";
