/**
 * Where a cloud run's correlation mask (config `correlation.mask`) may come from: a key relative to the
 * scan's folder in the scans bucket, never a path on the worker; and how large it may be. Kept free of
 * dependencies: the ingest Lambda checks uploads with it (correlationMask.ts reads and decodes masks).
 */

/** The largest label image read (label images compress well: 16 MiB of PNG holds any object the validator allows). */
export const MAX_MASK_BYTES = 16 * 1024 * 1024;

const KEY_SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Why `mask` cannot be a cloud run's mask key (relative to the scan's folder), or null when it can. Only
 * plain relative keys: no leading "/", no "." or ".." or empty segments, letters, digits, . _ - and /.
 */
export function maskKeyProblem(mask: string): string | null {
  const segments = mask.split("/");
  const ok = mask.length <= 512 && segments.every((s) => KEY_SEGMENT.test(s) && s !== "." && s !== "..") && /\.png$/i.test(mask);
  return ok ? null : `"correlation.mask" must name a PNG in the scan's own folder, as a key relative to it (e.g. "cells.png" for the file uploaded beside the scan: letters, digits, . _ - and /, no "." or ".." segments, ending in .png), not a path on the worker; got ${JSON.stringify(mask)}`;
}

/** The mask's key: relative to the folder of the scan's key. */
export function maskKey(scanKey: string, mask: string): string {
  return scanKey.slice(0, scanKey.lastIndexOf("/") + 1) + mask;
}
