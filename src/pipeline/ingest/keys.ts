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

/** Control characters (C0, DEL, C1) and the invisible bidirectional-text controls (they disguise a name). */
const UNSAFE_CHAR = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * Why a key cannot name an object safely, or null. S3 itself takes any key, but a key is also a path: in
 * results folders, in `fetch` and `aws s3 sync` downloads, and on the local S3 server, which keeps objects as
 * files (s3rver joins the key's segments to its directory, so `..` would name another user's file). Refused:
 * "." and ".." segments, empty segments (a leading "/" or "//": two keys for one file), backslashes (a path
 * separator on Windows), control characters and bidirectional-text controls. A single trailing "/" (a folder
 * marker) is allowed. docs/local.md, "Keys".
 */
export function unsafeKeyReason(key: string): string | null {
  if (!key) return "an empty key";
  const ch = UNSAFE_CHAR.exec(key);
  if (ch) return `a control character (${codePoint(ch[0])})`;
  if (key.includes("\\")) return "a backslash";
  const segments = key.split("/");
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === "." || s === "..") return `a "${s}" path segment`;
    if (s === "" && !(i === segments.length - 1 && i > 0)) return i === 0 ? "a leading \"/\"" : "an empty path segment (\"//\")";
  }
  return null;
}

/** A key's path made harmless (for naming a rejected upload's results folder): unsafe segments and characters replaced by "_". */
function harmlessPath(p: string): string {
  return p.split("/").map((s) => (s === "" || s === "." ? "_" : s === ".." ? "__" : s.replace(new RegExp(UNSAFE_CHAR.source, "g"), "_").replace(/\\/g, "_"))).join("/");
}

/** User and path of a scan key, or the problem with its layout (the scan is then rejected). */
export function parseUploadKey(key: string, layout: Layout = DEFAULT_LAYOUT): { upload: UploadKey; problem: Problem | null } {
  const rest = key.slice(layout.incomingPrefix.length);
  const cut = rest.indexOf("/");
  const ext = scanExtension(key) ?? "";
  const expected = `a key ${layout.incomingPrefix}<user>/<name>${ext || ".h5"} (user: letters, digits, . _ -; at most 64)`;
  const unsafe = unsafeKeyReason(key);
  if (unsafe) {
    // The results folder of the rejection stays inside the user's folder, whatever the key says.
    const user = cut > 0 && USER_RE.test(rest.slice(0, cut)) ? rest.slice(0, cut) : "_unknown";
    const relPath = harmlessPath(cut > 0 && user !== "_unknown" ? rest.slice(cut + 1) : rest);
    const stem = relPath.slice(0, relPath.length - ext.length).replace(/\/+$/, "") || "scan";
    return {
      upload: { user, relPath, stem },
      problem: problem("key-layout", key, `${expected}, each path segment a name (no "." or ".." segments, no empty ones, no backslashes or control characters)`, unsafe, "such a key names another folder on many file systems"),
    };
  }
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
