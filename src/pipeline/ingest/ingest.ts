/**
 * The upload handler's logic: one S3 upload in, one of
 *   ignored    not a scan (another file, a sidecar, a folder marker, another event type): a log line;
 *   gone       the object (version) no longer exists, or was overwritten before we got to it;
 *   duplicate  this upload was already handled (S3 delivers at least once);
 *   rejected   the key, the config or the scan is invalid: a rejection report beside the results, a
 *              notification with every reason; the scan is left untouched;
 *   submitted  one Batch job (deterministic name), a notification with the job id.
 * Transient failures throw (RetryableError or the SDK's errors): the message goes back to the queue.
 *
 * The scan is validated by ranged reads (S3RangeSource): only its metadata and sampled frames travel.
 */
import crypto from "node:crypto";
import type { FetchStats, RandomAccessSource } from "../../scan/byteSource.js";
import { s3Uri, S3RangeSource, type S3ObjectRef, type S3RangeReader } from "../../scan/s3Source.js";
import { validateScan, type ValidationLimits } from "../../scan/validate.js";
import type { Notification, Notifier } from "../notify/notifier.js";
import type { IdempotencyStore, UploadRecord } from "../storage/idempotency.js";
import type { ObjectStore } from "../storage/objectStore.js";
import { jobSpec } from "../submit/jobSpec.js";
import type { JobSubmitter } from "../submit/submitter.js";
import type { UploadEvent } from "./events.js";
import { DEFAULT_LAYOUT, ignoreReason, parseUploadKey, REJECTION_REPORT, resultPrefix, type Layout } from "./keys.js";
import { errorFields, type Logger } from "./log.js";
import { rejectionLinks, rejectionNotification, safeProblem, submittedNotification, type ProblemSource, type RejectionReport } from "./messages.js";
import { CONFIG_METADATA_KEY, loadUploadConfig } from "./uploadConfig.js";

/** A failure worth retrying later (the message returns to the queue). */
export class RetryableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetryableError";
  }
}

export interface IngestSettings {
  resultsBucket: string;
  layout: Layout;
  /** How long a claim on an upload is held (longer than one invocation can run). */
  leaseMs: number;
  limits?: Partial<ValidationLimits>;
  /** When set, events from other buckets are ignored. */
  scanBuckets?: string[];
}

/** A byte source that records failed reads instead of throwing (see s3Source.ts). */
export type CheckedSource = RandomAccessSource & { readonly error: Error | null; readonly stats: FetchStats };

export interface IngestDeps {
  objects: ObjectStore;
  /** Opens a scan for ranged reads. */
  openScan(ref: S3ObjectRef): CheckedSource;
  submitter: JobSubmitter;
  notifier: Notifier;
  uploads: IdempotencyStore;
  settings: IngestSettings;
  log: Logger;
  now?: () => number;
}

export function rangeOpener(reader: S3RangeReader): (ref: S3ObjectRef) => CheckedSource {
  return (ref) => new S3RangeSource(reader, ref);
}

export type IngestOutcome =
  | { status: "ignored"; key: string; reason: string }
  | { status: "gone"; key: string; reason: string }
  | { status: "duplicate"; uploadId: string; record: UploadRecord }
  | { status: "rejected"; uploadId: string; reportKey: string; report: RejectionReport }
  | { status: "submitted"; uploadId: string; jobId: string; jobName: string; adopted: boolean; read: FetchStats };

export const DEFAULT_SETTINGS: Omit<IngestSettings, "resultsBucket"> = { layout: DEFAULT_LAYOUT, leaseMs: 6 * 60_000 };

function sha256(s: string): string {
  return crypto.createHash("sha256").update(s).digest("hex");
}

/**
 * The idempotency key of an upload: bucket, key, version, and the config the version itself carries
 * (object metadata; "" when none). The version is the S3 version id, or on an unversioned bucket the ETag
 * and the event's sequencer (a new upload of identical bytes is a new upload; a redelivered event is not).
 * A sidecar config is deliberately not part of the key: it is a separate, mutable object, and a redelivery
 * after the sidecar was edited must not become a second job. It is read once, by the claiming invocation.
 */
export function uploadId(bucket: string, key: string, version: string, metadataConfig = ""): string {
  return sha256([bucket, key, version, metadataConfig ? sha256(metadataConfig) : ""].join("\n"));
}

/** The version part of the idempotency key (see uploadId). */
export function versionKey(head: { versionId?: string; etag: string }, sequencer?: string): string {
  if (head.versionId) return head.versionId;
  return sequencer ? `etag:${head.etag}@${sequencer}` : `etag:${head.etag}`;
}

export async function ingestUpload(ev: UploadEvent, deps: IngestDeps): Promise<IngestOutcome> {
  const { settings, log } = deps;
  const now = deps.now ?? Date.now;
  const at = { bucket: ev.bucket, key: ev.key, ...(ev.versionId ? { versionId: ev.versionId } : {}) };
  const ignore = (reason: string): IngestOutcome => {
    log.log("info", "ignored", { ...at, reason, eventName: ev.eventName });
    return { status: "ignored", key: ev.key, reason };
  };
  if (!ev.eventName.startsWith("ObjectCreated")) return ignore(`event ${ev.eventName}`);
  if (settings.scanBuckets && !settings.scanBuckets.includes(ev.bucket)) return ignore(`bucket ${ev.bucket} is not a scans bucket`);
  const why = ignoreReason(ev.key, settings.layout);
  if (why) return ignore(why);

  const head = await deps.objects.head(ev.bucket, ev.key, ev.versionId);
  if (!head) {
    log.log("warn", "gone", { ...at, reason: "the object (version) no longer exists" });
    return { status: "gone", key: ev.key, reason: "the object (version) no longer exists" };
  }
  if (!ev.versionId && ev.etag && head.etag !== ev.etag) {
    // Unversioned bucket, overwritten since: the new content has an event of its own.
    log.log("warn", "gone", { ...at, reason: "overwritten since the event", eventEtag: ev.etag, etag: head.etag });
    return { status: "gone", key: ev.key, reason: "overwritten since the event" };
  }

  const { upload, problem: keyProblem } = parseUploadKey(ev.key, settings.layout);
  const cfg = await loadUploadConfig(deps.objects, head);
  const id = uploadId(head.bucket, head.key, versionKey(head, ev.sequencer), head.metadata[CONFIG_METADATA_KEY]);
  const tag = id.slice(0, 16);
  const prefix = resultPrefix(upload, tag, settings.layout);
  const fields = { ...at, uploadId: id, user: upload.user };

  const claim = await deps.uploads.claim({
    id, bucket: head.bucket, key: head.key, configHash: cfg.hash, user: upload.user, resultPrefix: prefix,
    ...(head.versionId ? { versionId: head.versionId } : {}), etag: head.etag,
  }, now(), settings.leaseMs);
  if (claim.outcome === "busy") {
    log.log("info", "busy", { ...fields, leaseUntil: claim.record.leaseUntil });
    throw new RetryableError(`upload ${id} is being processed by another invocation`);
  }
  if (claim.outcome === "done") {
    const record = claim.record;
    log.log("info", "duplicate", { ...fields, status: record.status, jobId: record.jobId, notified: record.notified });
    if (!record.notified && record.notification) await notify(deps, record, record.notification);
    return { status: "duplicate", uploadId: id, record };
  }

  let submitting = false;
  try {
    const ref: S3ObjectRef = { bucket: head.bucket, key: head.key, etag: head.etag, size: head.size, ...(head.versionId ? { versionId: head.versionId } : {}) };
    const source = deps.openScan(ref);
    const t0 = now();
    const report = await validateScan(source, settings.limits);
    if (source.error) throw new RetryableError(`reading ${s3Uri(ref)} failed, the validation is void: ${source.error.message}`);
    log.log("info", "validated", {
      ...fields, ok: report.ok, errors: report.errors.length, warnings: report.warnings.length, size: head.size,
      bytesFetched: source.stats.bytesFetched, requests: source.stats.requests, ms: now() - t0,
    });

    // for people: control and bidi characters from keys, names and config text escaped (rejection.json included)
    const problems: RejectionReport["problems"] = [
      ...(keyProblem ? [{ ...keyProblem, source: "upload" as ProblemSource }] : []),
      ...cfg.problems.map((p) => ({ ...p, source: "config" as ProblemSource })),
      ...report.errors.map((p) => ({ ...p, source: "scan" as ProblemSource })),
    ].map(safeProblem);
    const scanUri = `s3://${head.bucket}/${head.key}`;
    const resultUri = `s3://${settings.resultsBucket}/${prefix}`;

    if (problems.length || !cfg.config) {
      const reportKey = `${prefix}${REJECTION_REPORT}`;
      const counts = (["upload", "config", "scan"] as const).map((s) => [s, problems.filter((p) => p.source === s).length] as const).filter(([, n]) => n);
      const rejection: RejectionReport = {
        kind: "ptyxrf-rejection", version: 1,
        scan: { uri: scanUri, bucket: head.bucket, key: head.key, etag: head.etag, size: head.size, ...(head.versionId ? { versionId: head.versionId } : {}) },
        user: upload.user, uploadId: id, resultPrefix: resultUri, rejectedAt: new Date(now()).toISOString(),
        summary: `${problems.length} problem${problems.length === 1 ? "" : "s"} (${counts.map(([s, n]) => `${s}: ${n}`).join(", ")})${
          report.omitted.errors ? `, and ${report.omitted.errors} more scan problem(s) counted but not listed` : ""}`,
        problems, warnings: report.warnings.map(safeProblem), omitted: report.omitted, config: { source: cfg.source, origin: cfg.origin }, read: report.read,
      };
      await deps.objects.putJson(settings.resultsBucket, reportKey, rejection);
      const message = rejectionNotification(rejection, `s3://${settings.resultsBucket}/${reportKey}`, await rejectionLinks(deps.objects, settings.resultsBucket, reportKey));
      const record = await deps.uploads.update(id, { status: "rejected", notification: message }, now());
      log.log("info", "rejected", { ...fields, reportKey, problems: problems.map((p) => p.code) });
      await notify(deps, record, message);
      return { status: "rejected", uploadId: id, reportKey, report: rejection };
    }

    const spec = jobSpec({
      user: upload.user, scanStem: upload.stem, uploadTag: tag, bucket: head.bucket, key: head.key, etag: head.etag,
      resultsBucket: settings.resultsBucket, resultPrefix: prefix, config: cfg.config,
      ...(head.versionId ? { versionId: head.versionId } : {}),
    });
    // From here on a job may exist: the claim is never released (a retry after the lease finds the job by name).
    submitting = true;
    const existing = claim.recovered ? await deps.submitter.findJob(spec.jobName) : null;
    const job = existing ?? (await deps.submitter.submit(spec));
    const message = submittedNotification({
      user: upload.user, scanUri, jobId: job.jobId, jobName: job.jobName, resultPrefix: resultUri, config: cfg,
      warnings: report.warnings, ...(head.versionId ? { versionId: head.versionId } : {}),
    });
    const record = await deps.uploads.update(id, { status: "submitted", jobId: job.jobId, jobName: job.jobName, notification: message }, now());
    log.log("info", "submitted", { ...fields, jobId: job.jobId, jobName: job.jobName, adopted: existing !== null });
    await notify(deps, record, message);
    return { status: "submitted", uploadId: id, jobId: job.jobId, jobName: job.jobName, adopted: existing !== null, read: { ...source.stats } };
  } catch (err) {
    if (!submitting) {
      await deps.uploads.release(id, now()).catch((e: unknown) => log.log("warn", "release failed", { ...fields, ...errorFields(e) }));
    }
    throw err;
  }
}

async function notify(deps: IngestDeps, record: UploadRecord, message: Notification): Promise<void> {
  const now = deps.now ?? Date.now;
  try {
    const messageId = await deps.notifier.publish(message);
    await deps.uploads.update(record.id, { notified: true }, now());
    deps.log.log("info", "notified", { uploadId: record.id, user: message.user, kind: message.kind, messageId });
  } catch (err) {
    deps.log.log("error", "notification failed", { uploadId: record.id, ...errorFields(err) });
    throw new RetryableError(`notifying ${message.user} about ${record.key} failed: ${(err as Error).message}`);
  }
}
