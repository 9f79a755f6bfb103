/**
 * Archival reprocessing: every scan under s3://BUCKET/PREFIX (ListObjectsV2, paginated; `.h5`/`.hdf5`;
 * optionally modified since a date), minus those that already have a complete run with this config
 * (runs.ts), capped at `maxJobs`; an estimate of the GPU time (estimate.ts); then task lists of at most
 * 10,000 tasks (one Batch array job each) that write each scan's run into its own results folder, submitted
 * with the sweep machinery (sweep/submit.ts). Scans are only read.
 */
import type { SolverConfig } from "../../solver/config.js";
import { scanExtension } from "../ingest/keys.js";
import { S3ObjectStore } from "../storage/objectStore.js";
import { MAX_ARRAY_SIZE } from "../submit/jobSpec.js";
import { mapLimit } from "../sweep/concurrency.js";
import { listScanObjects } from "../sweep/scans.js";
import { newSweepId, sweepFolder, writeTaskList, type SweepTask, type TaskList } from "../sweep/tasks.js";
import { taskId } from "../sweep/expand.js";
import { parseS3Uri, s3UriOf, type S3Transfer } from "../worker/transfer.js";
import { estimateHours, type Estimate } from "./estimate.js";
import { acceptedHashes, reprocessTag, runsFolderOf, scanState, type ScanState } from "./runs.js";

export interface ReprocessScan {
  uri: string;
  bucket: string;
  key: string;
  bytes: number;
  lastModified?: Date;
  /** Results key prefix holding this scan's runs. */
  folder: string;
  state: ScanState;
  /** Submitted (not processed with this config, and within --max-jobs). */
  submit: boolean;
}

export interface ReprocessPlan {
  source: string;
  config: SolverConfig;
  scans: ReprocessScan[];
  toSubmit: ReprocessScan[];
  /** Not processed with this config, left out by --max-jobs. */
  overCap: number;
  estimate: Estimate;
}

export interface PlanOptions {
  transfer: S3Transfer;
  /** s3://bucket/prefix (a folder: ends in / or is the bucket). */
  source: string;
  resultsBucket: string;
  config: SolverConfig;
  /** For scans outside incoming/<user>/: whose results folder gets their runs. */
  user: string;
  since?: Date;
  maxJobs?: number;
  /** ms per bench iteration on the target hardware (estimate.ts). */
  throughputMs?: number;
  concurrency?: number;
}

export class ReprocessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReprocessError";
  }
}

export async function planReprocess(o: PlanOptions): Promise<ReprocessPlan> {
  const loc = parseS3Uri(o.source);
  if (!loc) throw new ReprocessError(`expected s3://BUCKET/PREFIX, got "${o.source}"`);
  const found = (await listScanObjects(o.transfer, loc.bucket, loc.key, "**", o.since)).filter((obj) => scanExtension(obj.key));
  const hashes = acceptedHashes(o.config);
  const scans = await mapLimit(found, o.concurrency ?? 8, async (obj): Promise<ReprocessScan> => {
    const folder = runsFolderOf(loc.bucket, obj.key, o.user);
    const state = await scanState(o.transfer, o.resultsBucket, folder, hashes);
    return { uri: s3UriOf({ bucket: loc.bucket, key: obj.key }), bucket: loc.bucket, key: obj.key, bytes: obj.size, ...(obj.lastModified ? { lastModified: obj.lastModified } : {}), folder, state, submit: false };
  });
  const pending = scans.filter((s) => s.state.status !== "processed");
  const cap = o.maxJobs ?? Number.POSITIVE_INFINITY;
  pending.forEach((s, i) => (s.submit = i < cap));
  const toSubmit = pending.filter((s) => s.submit);
  return { source: o.source, config: o.config, scans, toSubmit, overCap: pending.length - toSubmit.length, estimate: estimateHours(toSubmit, o.config.iterations, o.throughputMs) };
}

/**
 * Pins every scan to submit to its current version, and writes one task list per MAX_ARRAY_SIZE scans into
 * results/<user>/reprocess/<name>-<id>[-partK]/tasks.json. Each task's folder is the scan's own
 * results/<...>/<tag>/ (tag: from scan, version and config), so a repeated reprocessing finds it done.
 */
export async function stageReprocess(plan: ReprocessPlan, o: { transfer: S3Transfer; resultsBucket: string; user: string; profile: string; name?: string; now?: Date }): Promise<{ list: TaskList; tasksUri: string }[]> {
  const objects = new S3ObjectStore(o.transfer.client);
  const pinned = await mapLimit(plan.toSubmit, 16, async (s) => {
    const head = await objects.head(s.bucket, s.key);
    if (!head) throw new ReprocessError(`${s.uri} disappeared after it was listed`);
    return { scan: s, version: head.versionId ?? `etag:${head.etag}`, bytes: head.size };
  });
  const now = o.now ?? new Date();
  const id = newSweepId(now);
  const name = o.name ?? "reprocess";
  const chunks: (typeof pinned)[] = [];
  for (let i = 0; i < pinned.length; i += MAX_ARRAY_SIZE) chunks.push(pinned.slice(i, i + MAX_ARRAY_SIZE));
  const out: { list: TaskList; tasksUri: string }[] = [];
  for (const [k, chunk] of chunks.entries()) {
    const sweepId = chunks.length > 1 ? `${id}-part${k + 1}` : id;
    const prefix = s3UriOf({ bucket: o.resultsBucket, key: sweepFolder(o.user, name, sweepId, "reprocess") });
    const tasks: SweepTask[] = chunk.map((p, index) => ({
      index, id: taskId(index, chunk.length), scan: p.scan.uri, scanLabel: p.scan.key.split("/").pop()!.replace(/\.(h5|hdf5)$/i, ""),
      scanUri: p.scan.uri, scanVersion: p.version, truthUri: null, params: {}, config: plan.config,
      out: s3UriOf({ bucket: o.resultsBucket, key: `${p.scan.folder}${reprocessTag(p.scan.bucket, p.scan.key, p.version, plan.config)}/` }),
      user: p.scan.folder.split("/")[1] ?? o.user, bytes: p.bytes,
    }));
    const list: TaskList = {
      kind: "ptyxrf-task-list", version: 1, purpose: "reprocess", name, sweepId, createdAt: now.toISOString(), user: o.user, profile: o.profile,
      prefix, rankBy: null, spec: { source: plan.source, config: plan.config, part: chunks.length > 1 ? `${k + 1} of ${chunks.length}` : undefined }, tasks,
    };
    out.push({ list, tasksUri: await writeTaskList(o.transfer, list) });
  }
  return out;
}
