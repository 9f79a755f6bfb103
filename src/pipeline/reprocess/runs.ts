/**
 * Where the runs of an archived scan live, and whether one of them already used a given config.
 *
 * A scan uploaded as incoming/<user>/<path>.h5 has its runs in results/<user>/<path>/<tag>/ (the ingest
 * path's layout, ingest/keys.ts); any other key (an archive bucket, another prefix) in
 * results/<user>/<bucket>/<key without extension>/<tag>/ (tags: 16 hex digits). A run is complete when its folder has
 * manifest.json (written last); the manifest's config_hash (outputs.ts configHash) says with which config.
 * A folder without a manifest is partial (running, failed or rejected): not processed.
 */
import { DEFAULT_LAYOUT, parseUploadKey, scanExtension } from "../ingest/keys.js";
import { uploadId } from "../ingest/ingest.js";
import { configHash, MANIFEST } from "../outputs.js";
import type { SolverConfig } from "../../solver/config.js";
import type { S3Transfer } from "../worker/transfer.js";

export type ScanState =
  | { status: "processed"; run: string }
  | { status: "other-config"; runs: string[] }
  | { status: "partial"; runs: string[] }
  | { status: "new" };

/** The folder (results bucket key prefix, ending in "/") holding a scan's runs. */
export function runsFolderOf(bucket: string, key: string, user: string): string {
  const { upload, problem } = parseUploadKey(key, DEFAULT_LAYOUT);
  if (key.startsWith(DEFAULT_LAYOUT.incomingPrefix) && !problem) return `${DEFAULT_LAYOUT.resultsPrefix}${upload.user}/${upload.stem}/`;
  const ext = scanExtension(key) ?? "";
  return `${DEFAULT_LAYOUT.resultsPrefix}${user}/${bucket}/${key.slice(0, key.length - ext.length)}/`;
}

/**
 * The hashes under which a run of `config` may have been recorded: the engine is where a run computed,
 * not what (the GPU image runs every job with engine "auto"), so every engine's variant counts.
 */
export function acceptedHashes(config: SolverConfig): Set<string> {
  return new Set(["auto", "cpu", "tfjs", "reference"].map((engine) => configHash({ ...config, engine })));
}

/** The run folder name of a reprocessing run: deterministic for scan version and config, like an upload tag. */
export function reprocessTag(bucket: string, key: string, version: string, config: SolverConfig): string {
  return uploadId(bucket, key, version, `reprocess:${configHash({ ...config, engine: "auto" })}`).slice(0, 16);
}

export async function scanState(transfer: S3Transfer, resultsBucket: string, folder: string, hashes: Set<string>): Promise<ScanState> {
  const { objects } = await transfer.list(resultsBucket, folder);
  const runs = new Map<string, boolean>();
  for (const o of objects) {
    // run folders are upload or reprocessing tags (16 hex digits); anything else is another scan's path
    const m = /^([0-9a-f]{16})\/(.+)$/.exec(o.key.slice(folder.length));
    if (m) runs.set(m[1], (runs.get(m[1]) ?? false) || m[2] === MANIFEST);
  }
  const complete = [...runs].filter(([, done]) => done).map(([run]) => run).sort();
  for (const run of complete) {
    const manifest = await transfer.getJson<{ config_hash?: string }>({ bucket: resultsBucket, key: `${folder}${run}/${MANIFEST}` });
    if (manifest?.config_hash && hashes.has(manifest.config_hash)) return { status: "processed", run: `${folder}${run}/` };
  }
  if (complete.length) return { status: "other-config", runs: complete.map((r) => `${folder}${r}/`) };
  if (runs.size) return { status: "partial", runs: [...runs.keys()].sort().map((r) => `${folder}${r}/`) };
  return { status: "new" };
}
