/**
 * The scans of a sweep: spec entries resolved to objects (S3 keys pinned to their version or ETag, prefix
 * patterns listed), local files found, and, when the sweep is staged, local files uploaded beside the task
 * list (results/.../inputs/, never into incoming/, which would start the upload pipeline). Scans are only
 * read: never modified, moved or deleted.
 */
import fs from "node:fs";
import path from "node:path";
import { S3ObjectStore } from "../storage/objectStore.js";
import { parseS3Uri, s3UriOf, type ListedObject, type S3Transfer } from "../worker/transfer.js";
import type { SweepScan } from "./expand.js";
import { SweepSpecError, type SweepSpec } from "./spec.js";

export interface ResolvedScan extends SweepScan {
  kind: "s3" | "local";
  /** s3: the object and the version the tasks read (version id, or etag:<etag>). */
  uri?: string;
  version?: string;
  /** local: the absolute path. */
  path?: string;
  bytes: number;
  lastModified?: Date;
}

/** Where a task reads its scan and truth from, after staging. */
export interface StagedScan extends ResolvedScan {
  scanUri: string;
  scanVersion: string;
  truthUri: string | null;
}

/** A glob on keys: `*` and `?` within one folder, `**` across folders. */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i += pattern[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Objects under s3://bucket/prefix whose key below the prefix matches the glob (paginated listing). */
export async function listScanObjects(transfer: S3Transfer, bucket: string, prefix: string, pattern = "*.h5", since?: Date): Promise<ListedObject[]> {
  const re = globToRegExp(pattern);
  const { objects } = await transfer.list(bucket, prefix);
  return objects
    .filter((o) => !o.key.endsWith("/") && re.test(o.key.slice(prefix.length)))
    .filter((o) => !since || (o.lastModified !== undefined && o.lastModified.getTime() >= since.getTime()))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function stem(name: string): string {
  return path.basename(name).replace(/\.(h5|hdf5|nxs)$/i, "");
}

/** Short, unique labels: the file name without extension, or more of the path where two collide. */
function label(scans: ResolvedScan[]): void {
  const counts = new Map<string, number>();
  for (const s of scans) counts.set(s.label, (counts.get(s.label) ?? 0) + 1);
  for (const s of scans) if ((counts.get(s.label) ?? 0) > 1) s.label = s.given.replace(/^s3:\/\/[^/]+\//, "").replace(/\.(h5|hdf5|nxs)$/i, "");
}

/**
 * Every scan of the spec, in the spec's order (a prefix's matches by key); missing objects and files are
 * reported all at once (SweepSpecError), before anything is written.
 */
export async function resolveScans(spec: SweepSpec, specDir: string, transfer: S3Transfer | null): Promise<ResolvedScan[]> {
  const problems: string[] = [];
  const out: ResolvedScan[] = [];
  const objects = transfer ? new S3ObjectStore(transfer.client) : null;
  const needS3 = () => {
    if (!transfer || !objects) throw new SweepSpecError(["the spec names s3:// scans: give a --profile whose S3 holds them"]);
    return { transfer, objects };
  };
  for (const entry of spec.scans) {
    if (typeof entry === "string" && entry.startsWith("s3://")) {
      const loc = parseS3Uri(entry)!;
      const head = await needS3().objects.head(loc.bucket, loc.key);
      if (!head) problems.push(`scan ${entry} does not exist`);
      else out.push({ given: entry, label: stem(loc.key), kind: "s3", uri: entry, version: head.versionId ?? `etag:${head.etag}`, bytes: head.size, truth: spec.truth[entry] ?? null });
    } else if (typeof entry === "string") {
      const file = path.resolve(specDir, entry);
      let st: fs.Stats | null = null;
      try {
        st = fs.statSync(file);
      } catch {
        st = null;
      }
      if (!st?.isFile()) problems.push(`scan ${entry}: no such file (${file})`);
      else out.push({ given: entry, label: stem(file), kind: "local", path: file, bytes: st.size, lastModified: st.mtime, truth: spec.truth[entry] ?? null });
    } else {
      const loc = parseS3Uri(entry.prefix)!;
      const { transfer: t } = needS3();
      const found = await listScanObjects(t, loc.bucket, loc.key, entry.pattern);
      if (!found.length) problems.push(`scans {prefix: ${entry.prefix}, pattern: ${entry.pattern}} matched no object`);
      for (const o of found) {
        const uri = s3UriOf({ bucket: loc.bucket, key: o.key });
        const head = await needS3().objects.head(loc.bucket, o.key);
        if (!head) continue; // deleted since the listing
        out.push({ given: uri, label: stem(o.key), kind: "s3", uri, version: head.versionId ?? `etag:${head.etag}`, bytes: head.size, ...(o.lastModified ? { lastModified: o.lastModified } : {}), truth: null });
      }
    }
  }
  for (const s of out) {
    if (s.truth && !s.truth.startsWith("s3://") && !fs.existsSync(path.resolve(specDir, s.truth))) problems.push(`truth of ${s.given}: no such file ${path.resolve(specDir, s.truth)}`);
  }
  if (problems.length) throw new SweepSpecError(problems);
  label(out);
  return out;
}

/**
 * Uploads local scans and truths into `<folder>inputs/` of the results bucket (S3 scans are read where they
 * are) and returns where each task reads them. `folder`: s3://bucket/prefix/.
 */
export async function stageScans(transfer: S3Transfer, folder: string, scans: ResolvedScan[], specDir: string): Promise<StagedScan[]> {
  const base = parseS3Uri(folder)!;
  const uploaded = new Map<string, { uri: string; version: string }>();
  const upload = async (file: string): Promise<{ uri: string; version: string }> => {
    const hit = uploaded.get(file);
    if (hit) return hit;
    const loc = { bucket: base.bucket, key: `${base.key}inputs/${String(uploaded.size).padStart(3, "0")}-${path.basename(file)}` };
    const put = await transfer.uploadFile(loc, file, { contentType: "application/x-hdf5" });
    const got = { uri: s3UriOf(loc), version: put.versionId ?? `etag:${put.etag}` };
    uploaded.set(file, got);
    return got;
  };
  const out: StagedScan[] = [];
  for (const s of scans) {
    const scan = s.kind === "local" ? await upload(s.path!) : { uri: s.uri!, version: s.version! };
    let truthUri: string | null = null;
    if (s.truth) truthUri = s.truth.startsWith("s3://") ? s.truth : (await upload(path.resolve(specDir, s.truth))).uri;
    out.push({ ...s, scanUri: scan.uri, scanVersion: scan.version, truthUri });
  }
  return out;
}
