/**
 * The reconstruction worker: one Batch job (or one local job) from scan to notification.
 *
 *   1. the run folder already has manifest.json: done before (a retry after the end), re-notify, exit 0
 *   2. stream the scan (pinned to its version or ETag) and the optional ground truth to local scratch; read
 *      the correlation mask (a PNG key beside the scan, size-capped: correlationMask.ts)
 *   3. validate and load, every frame checked as it loads (an invalid scan: error.json in the run folder, exit 2)
 *   4. look for a checkpoint of this very run (same scan version, config and truth) and resume from it
 *   5. reconstruct; a checkpoint every N iterations or M minutes (uploaded in the background while the
 *      solver goes on); progress.json in the run folder every few seconds. A loss or result that is not
 *      finite ends the run there (error.json, exit 2, no outputs: solver/finite.ts)
 *   6. write result.h5, metrics.json and the previews locally, upload them (multipart when large,
 *      retried with backoff), then manifest.json LAST: a folder without it is an incomplete run
 *   7. delete the checkpoint, publish the completion notification with the summary and links
 *
 * A stop request (SIGTERM) during the solve takes a final checkpoint after the current iteration and ends
 * the run with InterruptedError (exit 75: retried, and the retry resumes). Before the solve it ends at once;
 * after it the outputs are still uploaded (the caller's grace timer bounds that).
 *
 * A store that keeps failing: progress and checkpoint writes are coalesced (one in flight, the newest
 * waiting: latestWriter.ts), and once S3 has been failing past the transfer's deadline (transfer.ts,
 * PTYXRF_S3_DEADLINE_SECONDS) the solve stops at the next iteration with S3DeadlineError (exit 75): GPU
 * time is not spent on results that could not be saved. While it lives, the worker stamps a heartbeat in
 * progress.json every `heartbeatMs` (heartbeat.ts), so that readers can tell a killed worker's run.
 */
import fs from "node:fs";
import path from "node:path";
import { ScanFormatError } from "../../scan/read.js";
import { readTruth } from "../../scan/truth.js";
import { ConfigError } from "../../solver/config.js";
import { NonFiniteError } from "../../solver/finite.js";
import type { IterationRecord, SolverSnapshot } from "../../solver/reconstruct.js";
import { CheckpointPolicy, type CheckpointCadence } from "../checkpoint/policy.js";
import { encodeCheckpoint, sameIdentity, type CheckpointIdentity } from "../checkpoint/format.js";
import { S3CheckpointStore, type CheckpointStore } from "../checkpoint/store.js";
import { errorFields, type Logger } from "../ingest/log.js";
import { configHash, MANIFEST, writeRunOutputs, type RunMetrics } from "../outputs.js";
import { WORKER_ERROR_FILE } from "../notify/batchEvents.js";
import type { Notifier } from "../notify/notifier.js";
import { decodeMask, MAX_MASK_BYTES, maskKey, maskKeyProblem, pngSize } from "../correlationMask.js";
import { InvalidScanError, objectSize, prepare, solve } from "../reconstructRun.js";
import { checkTruthMatchesScan, TruthMismatchError } from "../truthMatch.js";
import { JobInputError, type WorkerJob } from "./job.js";
import { consoleUrl, runDownloadLinks, runIdOf, succeededNotification, type NotificationLinks, type OutputFile, type RunSummary } from "./messages.js";
import { DEFAULT_HEARTBEAT_SECONDS } from "./heartbeat.js";
import { LatestWriter } from "./latestWriter.js";
import { httpStatus, isTransient, ObjectMissingError, s3UriOf, type S3Location, type S3Transfer } from "./transfer.js";

/** Object metadata on a scan naming its ground truth (a key in the same bucket): `x-amz-meta-ptyxrf-truth`. */
export const TRUTH_METADATA_KEY = "ptyxrf-truth";
export const PROGRESS_FILE = "progress.json";
/** The error report of a failed run (the notifier links it). */
export const ERROR_FILE = WORKER_ERROR_FILE;

/** The run was stopped (SIGTERM) after saving its state: retry, and the next attempt resumes. */
export class InterruptedError extends Error {
  constructor(readonly reason: string, readonly checkpointIteration: number | null) {
    super(`stopped by ${reason}${checkpointIteration !== null ? ` after a checkpoint at iteration ${checkpointIteration}` : " before the solve"}`);
    this.name = "InterruptedError";
  }
}

/** A stop request (SIGTERM), seen by the worker between iterations. */
export class StopSignal {
  reason: string | null = null;
  get requested(): boolean {
    return this.reason !== null;
  }
  request(reason: string): void {
    this.reason ??= reason;
  }
}

export interface WorkerDeps {
  transfer: S3Transfer;
  notifier: Notifier;
  log: Logger;
  /** Local scratch folder for this job (created; removed at the end). */
  scratch: string;
  cadence: CheckpointCadence;
  /** Milliseconds between progress.json updates (0: only at checkpoints). */
  progressMs: number;
  /** Milliseconds between heartbeats in progress.json (default 30 s; heartbeat.ts). */
  heartbeatMs?: number;
  stop: StopSignal;
  /** AWS region, for console links (absent against local servers). */
  region?: string;
  /** Link to the S3 console in the notification (AWS only). */
  consoleLinks?: boolean;
  /** Lifetime of the presigned links in the notification (default: PTYXRF_LINK_EXPIRY_SECONDS, else 7 days). */
  linkExpirySeconds?: number;
  now?: () => number;
}

export type WorkerResult =
  | { status: "succeeded"; runId: string; summary: RunSummary; files: OutputFile[] }
  | { status: "already-complete"; runId: string };

export interface Progress {
  state: "starting" | "running" | "uploading" | "complete" | "interrupted" | "failed";
  runId: string;
  jobId: string;
  attempt: number;
  iteration: number;
  iterations: number;
  resumedFrom: number;
  checkpoint: number | null;
  losses?: Record<string, number>;
  errors?: Record<string, number>;
  time_s?: number;
  /** When the progress last changed. */
  updated: string;
  /** When the worker last wrote this file: at least every `heartbeatSeconds` while it lives (heartbeat.ts). */
  heartbeat?: string;
  heartbeatSeconds?: number;
  message?: string;
}

function at(prefix: S3Location, name: string): S3Location {
  return { bucket: prefix.bucket, key: `${prefix.key}${name}` };
}

function identityOf(job: WorkerJob, truthUri: string | null): CheckpointIdentity {
  return { scan: job.scanUri, scanVersion: job.scanVersion, configHash: configHash(job.config), truth: truthUri ?? "" };
}

export async function runWorker(job: WorkerJob, deps: WorkerDeps): Promise<WorkerResult> {
  const { transfer, log, stop } = deps;
  const now = deps.now ?? Date.now;
  const started = now();
  const runId = runIdOf(job.out.key);
  const fields = { jobId: job.jobId, attempt: job.attempt, runId };
  log.log("info", "worker started", { ...fields, scan: job.scanUri, scanVersion: job.scanVersion, out: job.outUri, engine: job.config.engine, mode: job.config.mode, iterations: job.config.iterations });

  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_SECONDS * 1000;
  const progress: Progress = {
    state: "starting", runId, jobId: job.jobId, attempt: job.attempt, iteration: 0, iterations: job.config.iterations,
    resumedFrom: 0, checkpoint: null, updated: new Date(now()).toISOString(), heartbeatSeconds: heartbeatMs / 1000,
  };
  /** Best effort: a failed progress update is logged, never fatal; one write at a time, the newest state wins. */
  const progressWriter = new LatestWriter<Progress>(
    (snapshot) => transfer.putJson(at(job.out, PROGRESS_FILE), snapshot),
    (err) => log.log("warn", "progress update failed", { ...fields, ...errorFields(err) }),
  );
  const writeProgress = (patch: Partial<Progress>, wait = false): Promise<void> => {
    const stamp = new Date(now()).toISOString();
    Object.assign(progress, patch, Object.keys(patch).length ? { updated: stamp } : {}, { heartbeat: stamp });
    const written = progressWriter.push({ ...progress });
    return wait ? written : Promise.resolve();
  };
  let heartbeat: ReturnType<typeof setInterval> | null = null;

  /**
   * S3 answers 403 instead of 404 for a missing key when the caller may not list the bucket: a read of
   * something that may not exist yet (the manifest, a checkpoint) treats 403 as absent, with a warning;
   * the writes that follow fail loudly if access is really denied.
   */
  const orAbsent = async <T>(what: string, read: () => Promise<T>, absent: T): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      if (httpStatus(err) !== 403) throw err;
      log.log("warn", `${what}: access denied, taken as absent (does the job role have s3:ListBucket on the results bucket?)`, { ...fields, ...errorFields(err) });
      return absent;
    }
  };

  // 1. done before?
  if (await orAbsent("manifest", () => transfer.exists(at(job.out, MANIFEST)), false)) {
    log.log("info", "already complete: the run folder has its manifest", fields);
    const metrics = await transfer.getJson<RunMetrics>(at(job.out, "metrics.json"));
    const manifest = await transfer.getJson<{ files: { name: string; bytes: number }[] }>(at(job.out, MANIFEST));
    if (metrics && manifest) {
      const files = [...manifest.files, { name: MANIFEST, bytes: 0 }].map((f) => ({ name: f.name, bytes: f.bytes, uri: `${job.outUri}${f.name}` }));
      await deps.notifier.publish(succeededNotification(job, summaryOf(runId, metrics, 0, job.attempt, (now() - started) / 1000), files, await links(job, deps, files)));
    }
    return { status: "already-complete", runId };
  }
  const checkStop = () => {
    if (stop.requested) throw new InterruptedError(stop.reason!, null);
  };
  await writeProgress({ state: "starting" });

  fs.mkdirSync(deps.scratch, { recursive: true });
  heartbeat = setInterval(() => void writeProgress({}), heartbeatMs);
  heartbeat.unref();
  try {
    // 2. inputs to scratch
    const scanPath = path.join(deps.scratch, "scan.h5");
    let t = now();
    let scanMeta: Record<string, string>;
    try {
      const got = await transfer.download(job.scan, scanPath, job.scanVersion);
      scanMeta = got.metadata;
      log.log("info", "scan downloaded", { ...fields, bytes: got.bytes, ms: now() - t });
    } catch (err) {
      if (err instanceof ObjectMissingError) throw new JobInputError([`the scan ${err.message}`]);
      throw err;
    }
    checkStop();
    let truthLoc = job.truth;
    const metaTruth = scanMeta[TRUTH_METADATA_KEY];
    if (!truthLoc && metaTruth) {
      // Only a key beside the scan (same bucket, same user folder): metadata cannot point the worker elsewhere.
      const folder = job.scan.key.slice(0, job.scan.key.lastIndexOf("/") + 1);
      if (metaTruth.startsWith(folder) && !metaTruth.includes("..")) truthLoc = { bucket: job.scan.bucket, key: metaTruth };
      else log.log("warn", "ignored a truth outside the scan's folder", { ...fields, truth: metaTruth });
    }
    let truthPath: string | null = null;
    if (truthLoc) {
      const p = path.join(deps.scratch, "truth.h5");
      try {
        await transfer.download(truthLoc, p);
        truthPath = p;
      } catch (err) {
        if (!(err instanceof ObjectMissingError)) throw err;
        log.log("warn", "no ground truth: the object is missing", { ...fields, truth: `s3://${truthLoc.bucket}/${truthLoc.key}` });
      }
    }
    const truthUri = truthPath && truthLoc ? `s3://${truthLoc.bucket}/${truthLoc.key}` : null;
    const mask = await readMask(job, transfer, orAbsent);
    checkStop();

    // 3. validate and load
    t = now();
    let prepared;
    try {
      prepared = await prepare(scanPath);
    } catch (err) {
      if (err instanceof InvalidScanError) throw new JobInputError(err.report.errors.map((e) => e.message));
      if (err instanceof ScanFormatError) throw new JobInputError([err.message]); // unreadable past validation
      throw err;
    }
    if (truthPath) {
      try {
        const truth = await readTruth(truthPath);
        checkTruthMatchesScan(prepared.scan, truth, truthUri ?? truthPath); // another scan's truth: no errors, not a crash
        prepared.truth = truth;
      } catch (err) {
        // the truth only scores the run: a GPU job is not failed for it, but the log says which case it is
        const what = err instanceof TruthMismatchError ? "ground truth does not match the scan" : "ground truth unreadable";
        log.log("warn", `${what}: reconstructing without errors`, { ...fields, ...errorFields(err) });
      }
    }
    const correlationLabels = mask ? configInput(() => decodeMask(mask.bytes, mask.uri, objectSize(prepared, job.config))) : undefined;
    log.log("info", "scan loaded", { ...fields, npos: prepared.scan.header.npos, frame: prepared.scan.header.frameSize, truth: truthUri, ms: now() - t });
    checkStop();

    // 4. checkpoint of this run?
    const identity = identityOf(job, prepared.truth ? truthUri : null);
    const store: CheckpointStore = new S3CheckpointStore(transfer, job.out, deps.scratch);
    const loaded = await orAbsent("checkpoint", () => store.load(), { checkpoint: null });
    let resume: SolverSnapshot | undefined;
    if (loaded.problem) log.log("warn", "checkpoint unusable, starting afresh", { ...fields, checkpoint: store.location, problem: loaded.problem });
    if (loaded.checkpoint) {
      const c = loaded.checkpoint;
      if (!sameIdentity(c.identity, identity)) {
        log.log("warn", "checkpoint of another run (scan version, config or truth differ), starting afresh", { ...fields, checkpoint: store.location, found: c.identity, expected: identity });
      } else {
        resume = c.snapshot;
        log.log("info", "resuming from checkpoint", { ...fields, checkpoint: store.location, iteration: c.snapshot.meta.iteration, created: c.created });
      }
    }
    const resumedFrom = resume?.meta.iteration ?? 0;

    // 5. solve, with checkpoints
    const total = job.config.iterations;
    const policy = new CheckpointPolicy(deps.cadence, resumedFrom, now);
    let lastSaved: number | null = resume ? resumedFrom : null;
    // One upload at a time; a checkpoint taken while another waits replaces it (the newest is the one to resume from).
    const checkpoints = new LatestWriter<{ encoded: Buffer; iteration: number; t0: number }>(async ({ encoded, iteration, t0 }) => {
      try {
        await store.save(encoded);
        lastSaved = iteration;
        log.log("info", "checkpoint saved", { ...fields, iteration, bytes: encoded.length, ms: now() - t0, checkpoint: store.location });
        void writeProgress({ checkpoint: iteration });
      } catch (err) {
        log.log("warn", "checkpoint upload failed (the run goes on)", { ...fields, iteration, ...errorFields(err) });
      }
    }, () => undefined);
    const save = (snapshot: SolverSnapshot): Promise<void> => {
      const encoded = encodeCheckpoint({ identity, created: new Date(now()).toISOString(), snapshot });
      return checkpoints.push({ encoded, iteration: snapshot.meta.iteration, t0: now() });
    };
    let lastProgress = now();
    let lastLogged = 0;
    await writeProgress({ state: "running", iteration: resumedFrom, resumedFrom });
    log.log("info", "solving", { ...fields, from: resumedFrom, to: total });
    t = now();
    const { reconstruction, errors } = await solve(prepared, job.config, (record: IterationRecord) => {
      const it = record.iteration;
      if (it === total || it - lastLogged >= Math.max(1, Math.floor(total / 10))) {
        lastLogged = it;
        log.log("info", "iteration", { ...fields, iteration: it, of: total, losses: record.losses, ...(record.errors ? { errors: record.errors } : {}), time_s: record.time_s });
      }
      if (deps.progressMs > 0 && now() - lastProgress >= deps.progressMs) {
        lastProgress = now();
        void writeProgress({ iteration: it, losses: record.losses, ...(record.errors ? { errors: record.errors } : {}), time_s: record.time_s });
      }
    }, {
      ...(resume ? { resume } : {}),
      onCheckpoint: async (iteration, capture) => {
        // S3 failing past the deadline: stop here, the next attempt resumes from the last checkpoint saved
        const outage = transfer.outage(`the run folder ${job.outUri}`);
        if (outage) throw outage;
        if (stop.requested) {
          await save(capture());
          await writeProgress({ state: "interrupted", iteration, message: `stopped by ${stop.reason}` }, true);
          throw new InterruptedError(stop.reason!, lastSaved);
        }
        if (policy.due(iteration, total)) {
          policy.taken(iteration);
          void save(capture());
        }
      },
    }).catch(userInput); // a diverged run (NaN) or a config the scan cannot serve: exit 2
    await checkpoints.idle();
    log.log("info", "solved", { ...fields, iterations: total, resumedFrom, ms: now() - t, engine: reconstruction.engine.name, device: reconstruction.engine.device });

    // 6. outputs: locally, then uploaded with the manifest last
    const outDir = path.join(deps.scratch, "out");
    const { files, metrics } = await writeRunOutputs(outDir, reconstruction, { scan: job.scanUri, truth: prepared.truth ? truthUri : null, errors, ...(correlationLabels ? { correlationLabels } : {}) });
    await writeProgress({ state: "uploading", iteration: total, losses: metrics.history.length ? (metrics.history[metrics.history.length - 1] as IterationRecord).losses : {} });
    t = now();
    const uploaded: OutputFile[] = [];
    for (const name of files) {
      if (name === MANIFEST) continue;
      const file = path.join(outDir, name);
      await transfer.uploadFile(at(job.out, name), file, { contentType: contentType(name) });
      uploaded.push({ name, bytes: fs.statSync(file).size, uri: `${job.outUri}${name}` });
    }
    await writeProgress({ state: "complete", iteration: total, time_s: reconstruction.wall_s }, true);
    const manifestFile = path.join(outDir, MANIFEST);
    await transfer.uploadFile(at(job.out, MANIFEST), manifestFile, { contentType: "application/json" });
    uploaded.push({ name: MANIFEST, bytes: fs.statSync(manifestFile).size, uri: `${job.outUri}${MANIFEST}` });
    log.log("info", "results uploaded", { ...fields, files: uploaded.length, bytes: uploaded.reduce((s, f) => s + f.bytes, 0), ms: now() - t, out: job.outUri });

    // 7. clean up, notify
    await store.clear().catch((err: unknown) => log.log("warn", "could not delete the checkpoint", { ...fields, checkpoint: store.location, ...errorFields(err) }));
    const summary = summaryOf(runId, metrics, resumedFrom, job.attempt, (now() - started) / 1000);
    const messageId = await deps.notifier.publish(succeededNotification(job, summary, uploaded, await links(job, deps, uploaded)));
    log.log("info", "notified", { ...fields, messageId, user: job.user });
    return { status: "succeeded", runId, summary, files: uploaded };
  } catch (err) {
    if (err instanceof InterruptedError) {
      log.log("warn", "interrupted", { ...fields, reason: err.reason, checkpoint: err.checkpointIteration });
      await writeProgress({ state: "interrupted", message: err.message }, true);
    } else if (err instanceof JobInputError) {
      log.log("error", "invalid input", { ...fields, problems: err.problems });
      await transfer.putJson(at(job.out, ERROR_FILE), {
        kind: "ptyxrf-worker-error", invalidInput: true, jobId: job.jobId, attempt: job.attempt, scan: job.scanUri, problems: err.problems, at: new Date(now()).toISOString(),
      }).catch((e: unknown) => log.log("warn", "could not write error.json", { ...fields, ...errorFields(e) }));
      await writeProgress({ state: "failed", message: err.message }, true);
    } else if (isTransient(err)) {
      // exit 75: Batch runs another attempt, which resumes from the last checkpoint (this write is tried once
      // if S3 is past its deadline)
      await writeProgress({ state: "interrupted", message: `transient failure, to be retried: ${(err as Error)?.message ?? String(err)}` }, true);
    } else {
      await writeProgress({ state: "failed", message: (err as Error)?.message ?? String(err) }, true);
    }
    throw err;
  } finally {
    clearInterval(heartbeat);
    await progressWriter.idle();
    fs.rmSync(deps.scratch, { recursive: true, force: true });
  }
}

/** A run that diverged (NaN losses or results) or a config the scan cannot serve is the job's invalid input. */
function userInput(err: unknown): never {
  if (err instanceof NonFiniteError) throw new JobInputError([err.message]);
  if (err instanceof ConfigError) throw new JobInputError(err.problems.map((p) => `config: ${p}`));
  throw err;
}

/** A config problem found by the worker is the job's invalid input (error.json, exit 2). */
function configInput<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    return userInput(err);
  }
}

/**
 * The run's correlation mask (config correlation.mask), read before the scan: a key beside the scan in its
 * own folder (never a path on the worker), at most MAX_MASK_BYTES, a PNG. Any problem is invalid input.
 */
async function readMask(
  job: WorkerJob, transfer: S3Transfer, orAbsent: <T>(what: string, read: () => Promise<T>, absent: T) => Promise<T>,
): Promise<{ bytes: Uint8Array; uri: string } | null> {
  const name = job.config.correlation.mask;
  if (!name) return null;
  const keyProblem = maskKeyProblem(name);
  if (keyProblem) throw new JobInputError([`config: ${keyProblem}`]);
  const loc = { bucket: job.scan.bucket, key: maskKey(job.scan.key, name) };
  const uri = s3UriOf(loc);
  const got = await orAbsent("correlation mask", () => transfer.getBytesUpTo(loc, MAX_MASK_BYTES), null);
  if (!got) throw new JobInputError([`config: "correlation.mask" ${uri} does not exist (upload the label image beside the scan, before the scan)`]);
  if (got.size > MAX_MASK_BYTES) throw new JobInputError([`config: "correlation.mask" ${uri} is ${got.size} bytes: a label image may have at most ${MAX_MASK_BYTES}`]);
  configInput(() => pngSize(got.bytes, uri));
  return { bytes: got.bytes, uri };
}

/** The console link (AWS) and presigned links to the run's files (messages.ts; a failure is said in the message). */
async function links(job: WorkerJob, deps: WorkerDeps, files: OutputFile[]): Promise<NotificationLinks> {
  const download = await runDownloadLinks(deps.transfer.client, job.out, files.map((f) => f.name), deps.linkExpirySeconds);
  if ("error" in download) deps.log.log("warn", "no download links in the notification", { jobId: job.jobId, error: download.error });
  return { ...(deps.consoleLinks ? { console: consoleUrl(job.out.bucket, job.out.key, deps.region) } : {}), download };
}

export function summaryOf(runId: string, metrics: RunMetrics, resumedFrom: number, attempt: number, jobWall_s: number): RunSummary {
  const first = metrics.history[0] as IterationRecord | undefined;
  return {
    runId, mode: metrics.mode, iterations: metrics.iterations, wall_s: metrics.wall_s, ms_per_iter: metrics.ms_per_iter,
    engine: metrics.engine, device: metrics.device, final: metrics.final, initialErrors: first?.errors ?? null,
    resumedFrom, attempt, jobWall_s,
  };
}

function contentType(name: string): string {
  if (name.endsWith(".png")) return "image/png";
  if (name.endsWith(".json")) return "application/json";
  if (name.endsWith(".h5")) return "application/x-hdf5";
  if (name.endsWith(".html")) return "text/html; charset=utf-8";
  if (name.endsWith(".csv")) return "text/csv; charset=utf-8";
  return "application/octet-stream";
}
