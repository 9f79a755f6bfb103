/**
 * The service as the command line sees it, the same for every profile: upload a scan (with its config and
 * an optional ground truth) where the upload handler listens, learn the run id, follow a run's state, fetch
 * its folder. Everything goes through S3 (what a collaborator's uploader policy allows: write incoming/<user>/,
 * read results/<user>/); the local profiles also read their own records (uploads, jobs) for detail.
 *
 * The run id is the upload tag: the first 16 hex digits of the upload's idempotency key (ingest.ts uploadId),
 * which names the results folder results/<user>/<name>/<run id>/. On a versioned bucket (AWS, LocalStack as
 * bootstrapped) the client computes it from the version id S3 returns; on the local server (unversioned: the
 * key includes the event's sequencer) it reads the upload record the handler wrote.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { uploadId, versionKey } from "../ingest/ingest.js";
import { CONFIG_METADATA_KEY } from "../ingest/uploadConfig.js";
import { REJECTION_REPORT, sidecarKey, DEFAULT_LAYOUT } from "../ingest/keys.js";
import type { RejectionReport } from "../ingest/messages.js";
import { MANIFEST, type RunMetrics } from "../outputs.js";
import type { UploadRecord } from "../storage/idempotency.js";
import { makeS3Client } from "../../scan/s3Client.js";
import { CHECKPOINT_DIR } from "../checkpoint/store.js";
import { staleness, staleText, type Staleness } from "../worker/heartbeat.js";
import { ERROR_FILE, PROGRESS_FILE, TRUTH_METADATA_KEY, type Progress as WorkerProgress } from "../worker/worker.js";
import { S3Transfer, type Progress } from "../worker/transfer.js";
import type { Profile } from "./profile.js";
import { listJobs, type LocalJobRecord } from "./runner.js";
import { localPaths } from "./stack.js";

/** S3 user metadata is at most 2 KB in all: larger configs go in a sidecar. */
export const MAX_METADATA_CONFIG = 1800;
export const TRUTH_SUFFIX = ".truth";
const USER_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class SubmitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SubmitError";
  }
}

export interface SubmitOptions {
  file: string;
  user: string;
  /** Path below incoming/<user>/ without extension (default: the file's name without .h5). */
  name?: string;
  /** A solver config (validated by the service); sent as object metadata, or a sidecar when large. */
  config?: unknown;
  truthFile?: string;
  onProgress?: Progress;
}

export interface Submitted {
  scanKey: string;
  scanUri: string;
  etag: string;
  versionId?: string;
  bytes: number;
  uploadedAt: number;
  metadataConfig?: string;
  configVia: "metadata" | "sidecar" | "existing-sidecar" | "defaults";
  truthKey?: string;
  user: string;
  stem: string;
}

/** `stale`: progress.json says the worker is at work, but its heartbeat stopped (heartbeat.ts): the worker is gone. */
export type RunState = "uploaded" | "validating" | "rejected" | "queued" | "running" | "retrying" | "interrupted" | "uploading" | "stale" | "succeeded" | "failed";

export interface RunStatus {
  runId: string;
  /** s3://results-bucket/results/<user>/<name>/<run id>/ */
  resultUri: string;
  prefix: string;
  state: RunState;
  /** One line for people. */
  detail: string;
  scan?: string;
  user?: string;
  progress?: WorkerProgress;
  /** Set when the state is `stale`: how long the worker has been silent. */
  stale?: Staleness;
  metrics?: RunMetrics;
  rejection?: RejectionReport;
  error?: { problems?: string[]; message?: string };
  job?: Pick<LocalJobRecord, "jobId" | "jobName" | "status" | "statusReason" | "attempts" | "log">;
  upload?: Pick<UploadRecord, "id" | "status" | "key" | "createdAt" | "jobId">;
  terminal: boolean;
}

function stemOf(file: string): string {
  return path.basename(file).replace(/\.(h5|hdf5)$/i, "");
}

function readUploadRecords(dir: string): UploadRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const out: UploadRecord[] = [];
  for (const n of names) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, n), "utf8")) as UploadRecord);
    } catch {
      /* being written */
    }
  }
  return out;
}

export class ServiceClient {
  readonly transfer: S3Transfer;
  /** The same client with few retries: status polls are repeated anyway, so a poll fails fast. */
  private readonly poll: S3Transfer;

  /** The clock and environment that decide whether a heartbeat is stale (tests set them). */
  now: () => number = Date.now;
  env: NodeJS.ProcessEnv = process.env;

  constructor(readonly profile: Profile, transfer?: S3Transfer) {
    this.transfer = transfer ?? new S3Transfer(makeS3Client(profile.s3));
    this.poll = new S3Transfer(this.transfer.client, { retry: { attempts: 2, baseMs: 100, maxMs: 500 } });
  }

  close(): void {
    this.transfer.client.destroy();
  }

  private get records() {
    return this.profile.dataDir ? localPaths(this.profile.dataDir) : null;
  }

  /** Uploads the truth (if any), then the scan with its config: the scan's arrival starts the pipeline. */
  async submit(o: SubmitOptions): Promise<Submitted> {
    const user = o.user;
    if (!USER_RE.test(user)) throw new SubmitError(`the user "${user}" is not a valid folder name (letters, digits, . _ -; at most 64)`);
    const stem = (o.name ?? stemOf(o.file)).replace(/\.(h5|hdf5)$/i, "").replace(/^\/+|\/+$/g, "");
    if (!stem || stem.includes("..")) throw new SubmitError(`bad name "${o.name}"`);
    const scanKey = `${DEFAULT_LAYOUT.incomingPrefix}${user}/${stem}.h5`;
    const bucket = this.profile.scansBucket;
    const metadata: Record<string, string> = {};
    let configVia: Submitted["configVia"] = "defaults";
    let metadataConfig: string | undefined;
    const side = sidecarKey(scanKey);
    const sidecarExists = await this.transfer.exists({ bucket, key: side });
    if (o.config !== undefined) {
      const text = JSON.stringify(o.config);
      if (text.length <= MAX_METADATA_CONFIG) {
        if (sidecarExists) {
          throw new SubmitError(`a sidecar config s3://${bucket}/${side} exists: with --config as well the upload would be rejected as ambiguous (remove the sidecar, or submit under another --name)`);
        }
        metadata[CONFIG_METADATA_KEY] = text;
        metadataConfig = text;
        configVia = "metadata";
      } else {
        await this.transfer.putBytes({ bucket, key: side }, `${JSON.stringify(o.config, null, 2)}\n`, { contentType: "application/json" });
        configVia = "sidecar";
      }
    } else if (sidecarExists) {
      configVia = "existing-sidecar";
    }
    let truthKey: string | undefined;
    if (o.truthFile) {
      truthKey = `${DEFAULT_LAYOUT.incomingPrefix}${user}/${stem}${TRUTH_SUFFIX}`;
      await this.transfer.uploadFile({ bucket, key: truthKey }, o.truthFile, { contentType: "application/x-hdf5" });
      metadata[TRUTH_METADATA_KEY] = truthKey;
    }
    const bytes = fs.statSync(o.file).size;
    const uploadedAt = Date.now();
    const put = await this.transfer.uploadFile({ bucket, key: scanKey }, o.file, {
      contentType: "application/x-hdf5", ...(Object.keys(metadata).length ? { metadata } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    return {
      scanKey, scanUri: `s3://${bucket}/${scanKey}`, etag: put.etag, ...(put.versionId ? { versionId: put.versionId } : {}), bytes, uploadedAt,
      ...(metadataConfig ? { metadataConfig } : {}), configVia, ...(truthKey ? { truthKey } : {}), user, stem,
    };
  }

  /** The run's results prefix (key) for an upload. */
  resultPrefixFor(s: Submitted, runId: string): string {
    return `${DEFAULT_LAYOUT.resultsPrefix}${s.user}/${s.stem}/${runId}/`;
  }

  /**
   * The run id of an upload: computed from the version id on versioned buckets; on the local server read
   * from the handler's upload record once it has claimed the upload.
   */
  async runIdOf(s: Submitted, timeoutMs = 60_000): Promise<string> {
    if (s.versionId) return uploadId(this.profile.scansBucket, s.scanKey, versionKey({ versionId: s.versionId, etag: s.etag }), s.metadataConfig).slice(0, 16);
    const rec = this.records;
    if (!rec) throw new SubmitError(`s3://${this.profile.scansBucket} is not versioned: the run id cannot be computed (enable versioning on the scans bucket)`);
    const t0 = Date.now();
    for (;;) {
      const hit = readUploadRecords(rec.uploads)
        .filter((r) => r.bucket === this.profile.scansBucket && r.key === s.scanKey && r.etag === s.etag && r.createdAt >= s.uploadedAt - 5_000)
        .sort((a, b) => b.createdAt - a.createdAt)[0];
      if (hit) return hit.id.slice(0, 16);
      if (Date.now() - t0 > timeoutMs) throw new SubmitError(`the upload handler did not pick up ${s.scanUri} within ${timeoutMs / 1000} s: is the local stack running?`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The results prefix (key) of a run: a run id, or s3://bucket/prefix/. */
  async locate(run: string, user?: string): Promise<string | null> {
    const m = /^s3:\/\/([^/]+)\/(.+\/)$/.exec(run);
    if (m) return m[2];
    if (!/^[0-9a-f]{6,64}$/.test(run)) return null;
    const rec = this.records;
    if (rec) {
      const hit = readUploadRecords(rec.uploads).find((r) => r.id.startsWith(run.slice(0, 16)) && r.resultPrefix);
      if (hit) return hit.resultPrefix!;
    }
    const base = `${DEFAULT_LAYOUT.resultsPrefix}${user ? `${user}/` : ""}`;
    const { objects } = await this.transfer.list(this.profile.resultsBucket, base);
    for (const o of objects) {
      const i = o.key.indexOf(`/${run}/`);
      if (i >= 0) return o.key.slice(0, i + run.length + 2);
    }
    return null;
  }

  async status(run: string, user?: string): Promise<RunStatus | null> {
    const prefix = await this.locate(run, user);
    return prefix ? this.statusAt(prefix) : null;
  }

  /** The state of the run whose folder is `prefix` (key, ending in "/"). */
  async statusAt(prefix: string): Promise<RunStatus> {
    const bucket = this.profile.resultsBucket;
    const runId = prefix.split("/").filter(Boolean).pop() ?? prefix;
    const at = (name: string) => ({ bucket, key: `${prefix}${name}` });
    const base = { runId, resultUri: `s3://${bucket}/${prefix}`, prefix, user: prefix.split("/")[1] };
    const rec = this.records;
    const upload = rec ? readUploadRecords(rec.uploads).find((r) => r.id.startsWith(runId)) : undefined;
    const job = rec && upload?.jobId ? listJobs(rec.jobs).find((j) => j.jobId === upload.jobId) : undefined;
    const extra = {
      ...(upload ? { upload: { id: upload.id, status: upload.status, key: upload.key, createdAt: upload.createdAt, ...(upload.jobId ? { jobId: upload.jobId } : {}) }, scan: `s3://${upload.bucket}/${upload.key}` } : {}),
      ...(job ? { job: { jobId: job.jobId, jobName: job.jobName, status: job.status, ...(job.statusReason ? { statusReason: job.statusReason } : {}), attempts: job.attempts, log: job.log } } : {}),
    };
    if (await this.poll.exists(at(MANIFEST))) {
      const metrics = (await this.poll.getJson<RunMetrics>(at("metrics.json"))) ?? undefined;
      const progress = (await this.poll.getJson<WorkerProgress>(at(PROGRESS_FILE))) ?? undefined;
      const f = metrics?.final;
      const err = f?.object_rel_error !== undefined ? `, object error ${f.object_rel_error.toFixed(4)}` : "";
      return {
        ...base, ...extra, state: "succeeded", terminal: true, ...(metrics ? { metrics, scan: metrics.scan } : {}), ...(progress ? { progress } : {}),
        detail: metrics ? `${metrics.mode}, ${metrics.iterations} iterations in ${metrics.wall_s.toFixed(1)} s on ${metrics.engine}${err}` : "complete",
      };
    }
    const rejection = await this.poll.getJson<RejectionReport>(at(REJECTION_REPORT));
    if (rejection) return { ...base, ...extra, state: "rejected", terminal: true, rejection, scan: rejection.scan.uri, detail: rejection.summary };
    const error = await this.poll.getJson<{ problems?: string[]; message?: string }>(at(ERROR_FILE));
    if (error) return { ...base, ...extra, state: "failed", terminal: true, error, detail: `invalid input: ${(error.problems ?? []).join("; ")}` };
    const progress = (await this.poll.getJson<WorkerProgress>(at(PROGRESS_FILE))) ?? undefined;
    if (job?.status === "FAILED") {
      return { ...base, ...extra, ...(progress ? { progress } : {}), state: "failed", terminal: true, detail: `${job.statusReason ?? "the job failed"} (log: ${job.log})` };
    }
    if (job?.status === "RUNNABLE" && job.attempts.length > 0) {
      return { ...base, ...extra, ...(progress ? { progress } : {}), state: "retrying", terminal: false, detail: `waiting for attempt ${job.attempts.filter((a) => !a.stoppedByRunner).length + 1}: ${job.statusReason ?? ""}` };
    }
    if (progress) {
      const stale = staleness(progress, this.now(), this.env);
      const state: RunState = stale ? "stale" : progress.state === "uploading" || progress.state === "complete" ? "uploading"
        : progress.state === "interrupted" ? "interrupted" : progress.state === "failed" ? "failed" : "running";
      const cp = progress.checkpoint !== null ? `, checkpoint at ${progress.checkpoint}` : "";
      const resumed = progress.resumedFrom ? `, resumed from ${progress.resumedFrom}` : "";
      const where = `iteration ${progress.iteration}/${progress.iterations} (attempt ${progress.attempt}${resumed}${cp})`;
      return {
        ...base, ...extra, progress, state, terminal: state === "failed" && !job, ...(stale ? { stale } : {}),
        detail: stale
          ? `${staleText(stale)}: the worker was ${progress.state} at ${where} and has written nothing since ${progress.heartbeat ?? progress.updated}; it was probably killed (its job is retried if it has attempts left)`
          : `${where}${progress.message ? `: ${progress.message}` : ""}`,
      };
    }
    if (upload?.status === "processing") return { ...base, ...extra, state: "validating", terminal: false, detail: "validating the upload" };
    if (upload?.status === "submitted" || job) return { ...base, ...extra, state: "queued", terminal: false, detail: `submitted${upload?.jobId ? ` as job ${upload.jobId}` : ""}, waiting for a worker` };
    return { ...base, ...extra, state: "queued", terminal: false, detail: "submitted (no output yet)" };
  }

  /** Recent runs: the local upload records, or every run folder under results/<user>/. */
  async list(user?: string, limit = 20): Promise<RunStatus[]> {
    const rec = this.records;
    let prefixes: string[];
    if (rec) {
      prefixes = readUploadRecords(rec.uploads).filter((r) => r.resultPrefix && (!user || r.user === user))
        .sort((a, b) => b.createdAt - a.createdAt).map((r) => r.resultPrefix!);
    } else {
      const { objects } = await this.transfer.list(this.profile.resultsBucket, `${DEFAULT_LAYOUT.resultsPrefix}${user ? `${user}/` : ""}`);
      const seen = new Map<string, number>();
      for (const o of objects) {
        const m = /^(.*\/[0-9a-f]{16}\/)/.exec(o.key);
        if (m) seen.set(m[1], Math.max(seen.get(m[1]) ?? 0, o.lastModified?.getTime() ?? 0));
      }
      prefixes = [...seen.entries()].sort((a, b) => b[1] - a[1]).map(([p]) => p);
    }
    return Promise.all(prefixes.slice(0, limit).map((p) => this.statusAt(p)));
  }

  /**
   * Downloads a run's folder (not its checkpoint) into `outDir` and checks every file against the manifest.
   * Returns the files and whether the run is complete and verified.
   */
  async fetch(prefix: string, outDir: string, onFile?: (name: string, bytes: number) => void): Promise<{ files: string[]; complete: boolean; verified: boolean; problems: string[] }> {
    const bucket = this.profile.resultsBucket;
    const { objects } = await this.transfer.list(bucket, prefix);
    const files: string[] = [];
    fs.mkdirSync(outDir, { recursive: true });
    for (const o of objects) {
      const rel = o.key.slice(prefix.length);
      if (!rel || rel.startsWith(CHECKPOINT_DIR) || rel.includes("..")) continue;
      const target = path.join(outDir, rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      await this.transfer.download({ bucket, key: o.key }, target);
      files.push(rel);
      onFile?.(rel, o.size);
    }
    const problems: string[] = [];
    const manifestPath = path.join(outDir, MANIFEST);
    const complete = fs.existsSync(manifestPath);
    if (complete) {
      const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as { files: { name: string; bytes: number; sha256: string }[] };
      for (const f of manifest.files) {
        const p = path.join(outDir, f.name);
        if (!fs.existsSync(p)) {
          problems.push(`${f.name}: listed in the manifest, missing`);
          continue;
        }
        const data = fs.readFileSync(p);
        const sha = crypto.createHash("sha256").update(data).digest("hex");
        if (data.length !== f.bytes || sha !== f.sha256) problems.push(`${f.name}: ${data.length} bytes, sha256 ${sha.slice(0, 12)}..., expected ${f.bytes} bytes, ${f.sha256.slice(0, 12)}...`);
      }
    }
    return { files, complete, verified: complete && problems.length === 0, problems };
  }
}
