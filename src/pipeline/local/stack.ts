/**
 * The local profile: the whole cloud pipeline on one machine, no AWS account, no Docker, no GPU.
 *
 *   S3 (s3rver on 127.0.0.1, data under <dataDir>/s3)
 *     │ object-created events (as S3 sends them), through a local queue: at-least-once, redelivered after a
 *     │ failure, dead-lettered after 5 receives (<dataDir>/dead-letter.jsonl), like S3 -> SQS
 *     ▼
 *   the upload handler (src/pipeline/ingest: the Lambda's code), with the same interfaces:
 *     idempotency: FileIdempotencyStore (<dataDir>/uploads)    notifications: <dataDir>/notifications.jsonl
 *     submission: LocalJobRunner (<dataDir>/jobs): the worker in child processes, Batch's contract
 *     ▼
 *   worker (dist/container/worker.js) -> results bucket, checkpoints, notification
 *     │ job state changes: FAILED ones go through the notifier Lambda's code (notify/batchEvents.ts)
 *
 * The running stack registers itself in <dataDir>/stack.json (endpoint, pid), so that `ptyxrf submit`,
 * `status` and `fetch` find it.
 *
 * Nothing uploaded is lost (docs/local.md, "What survives a stop"): the queue lives in memory, so at every
 * start the stack rescans incoming/ and delivers each scan that has no finished upload record (uploads
 * queued when it stopped, events lost with a crashed server, claims a killed stack left half done) once;
 * an upload's event and its rescan carry the same sequencer (s3Child.ts), so a race between them is one
 * upload to the idempotency records. When the S3 server dies, the stack says so (`failed`), marks
 * stack.json stale, and `local up` exits non-zero.
 */
import fs from "node:fs";
import path from "node:path";
import type { S3EventRecord } from "aws-lambda";
import { makeS3Client } from "../../scan/s3Client.js";
import { S3RangeReader } from "../../scan/s3Source.js";
import { DEFAULT_SETTINGS, rangeOpener, type IngestDeps, type IngestOutcome } from "../ingest/ingest.js";
import { errorFields, type Logger, type LogLevel } from "../ingest/log.js";
import { handleSqsBatch } from "../ingest/sqs.js";
import { encodeS3Key } from "../ingest/events.js";
import { DEFAULT_LAYOUT, ignoreReason } from "../ingest/keys.js";
import { handleJobStateChange, type BatchJobEvent } from "../notify/batchEvents.js";
import { LINK_EXPIRY_ENV } from "../notify/links.js";
import { FileIdempotencyStore } from "../storage/idempotency.js";
import { S3ObjectStore } from "../storage/objectStore.js";
import { version } from "../../version.js";
import { JsonLinesNotifier, type NotificationLine } from "./notifications.js";
import { LocalJobRunner, type LocalJobRecord } from "./runner.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION, S3Server, type ServerExit } from "./s3server.js";
import { LOCAL_RESULTS_BUCKET, LOCAL_SCANS_BUCKET, localPaths, stackFile, stackProcess, type StackInfo } from "./layout.js";

export { LOCAL_DEFAULT_PORT, LOCAL_RESULTS_BUCKET, LOCAL_SCANS_BUCKET, localPaths, runningStack, stackFile, type StackInfo } from "./layout.js";

export interface LocalStackOptions {
  /** Everything lives here (default runs/local). */
  dataDir: string;
  /** 0: ephemeral (default). */
  port?: number;
  /** Workers at once (default 1: each uses every core). */
  concurrency?: number;
  /** Attempts per job (default 3, as the job definition). */
  attempts?: number;
  /** Extra worker environment (checkpoint cadence, progress interval...). */
  workerEnv?: Record<string, string>;
  /** Echo of the stack's log lines (they always go to <dataDir>/stack.log). */
  onLog?: (level: LogLevel, message: string, fields: Record<string, unknown>) => void;
  onNotification?: (line: NotificationLine) => void;
  onJobStatus?: (record: LocalJobRecord) => void;
  onJobOutput?: (jobId: string, line: string) => void;
  onIngest?: (outcome: IngestOutcome) => void;
  /** Register in <dataDir>/stack.json (default true). */
  register?: boolean;
  /** Redelivery delay after a failed ingest (default 1 s). */
  redeliveryMs?: number;
  maxReceives?: number;
  /** The start-up rescan looks at no more than this many objects under incoming/ (default 100,000). */
  rescanLimit?: number;
}

/** What the start-up rescan of incoming/ found. */
export interface RescanResult {
  /** Objects listed under incoming/. */
  listed: number;
  /** Scans delivered to the upload handler: no finished upload record. */
  delivered: string[];
  /** Of those, claims a previous stack left unfinished (their leases were ended). */
  unfinished: string[];
  /** The listing stopped at `rescanLimit` (the rest waits for a new upload event or the next start). */
  truncated: boolean;
}

export interface LocalStack {
  readonly dataDir: string;
  readonly endpoint: string;
  readonly server: S3Server;
  readonly runner: LocalJobRunner;
  readonly uploads: FileIdempotencyStore;
  readonly scansBucket: string;
  readonly resultsBucket: string;
  readonly notificationsFile: string;
  readonly info: StackInfo;
  /** Puts an S3 event record on the ingest queue, as S3 would (again). */
  deliver(record: S3EventRecord): void;
  /** Resolves when no event is queued or being ingested and no job is queued or running. */
  settled(timeoutMs?: number): Promise<void>;
  /** What the start-up rescan delivered. */
  readonly rescanned: RescanResult;
  /** Rescans incoming/ (as at start-up) and delivers the scans without a finished upload record. */
  rescan(): Promise<RescanResult>;
  /** Resolves (never rejects) when the S3 server dies under the running stack; the stack must then stop. */
  readonly failed: Promise<ServerExit>;
  /** `workerGraceMs`: how long running workers get after SIGTERM (default 30 s). */
  stop(o?: { workerGraceMs?: number }): Promise<void>;
}

class FileLogger implements Logger {
  constructor(private readonly file: string, private readonly echo?: LocalStackOptions["onLog"]) {}
  log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    fs.appendFileSync(this.file, `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
    this.echo?.(level, message, fields);
  }
}

interface QueuedMessage {
  messageId: string;
  record: S3EventRecord;
  receives: number;
}

export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  const dataDir = path.resolve(o.dataDir);
  const paths = localPaths(dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const other = stackProcess(dataDir);
  if (other && other.pid !== process.pid) {
    throw new Error(other.stale
      ? `a local stack on ${dataDir} (pid ${other.pid}) is shutting down (${other.stale}): start again once it has exited`
      : `a local stack is already running on ${dataDir} (pid ${other.pid}, ${other.endpoint}): use it, or stop it first`);
  }
  const log = new FileLogger(paths.log, o.onLog);
  const scansBucket = LOCAL_SCANS_BUCKET, resultsBucket = LOCAL_RESULTS_BUCKET;
  const server = new S3Server({ directory: paths.s3, buckets: [scansBucket, resultsBucket], port: o.port ?? 0 });
  await server.start();
  const endpoint = server.endpoint;
  const settings = server.settings;

  const notifier = new JsonLinesNotifier(paths.notifications, "stack");
  let stopFollow: (() => void) | null = null;
  if (o.onNotification) {
    const { followNotifications } = await import("./notifications.js");
    stopFollow = followNotifications(paths.notifications, o.onNotification, { intervalMs: 100 });
  }
  const client = makeS3Client(settings);
  const runner = new LocalJobRunner({
    dir: paths.jobs,
    concurrency: o.concurrency ?? 1,
    attempts: o.attempts ?? 3,
    env: localWorkerEnv(endpoint, dataDir, o.workerEnv),
    onStatus: (r) => {
      log.log("info", "job", { jobId: r.jobId, jobName: r.jobName, status: r.status, statusReason: r.statusReason, attempt: r.attempts.length });
      o.onJobStatus?.(r);
      if (r.status === "FAILED") {
        // The notifier Lambda's code, on the event Batch would send (SUCCEEDED is the worker's own message).
        void handleJobStateChange(batchEvent(r), notifier, log, { s3: client }).catch((err: unknown) => log.log("error", "job notification failed", { jobId: r.jobId, ...errorFields(err) }));
      }
    },
    ...(o.onJobOutput ? { onOutput: o.onJobOutput } : {}),
  });

  const reader = new S3RangeReader(settings, { timeoutMs: 30_000 });
  const uploads = new FileIdempotencyStore(paths.uploads);
  const deps: IngestDeps = {
    objects: new S3ObjectStore(client),
    openScan: rangeOpener(reader),
    submitter: runner,
    notifier,
    uploads,
    settings: { ...DEFAULT_SETTINGS, resultsBucket, scanBuckets: [scansBucket] },
    log,
  };

  // The ingest queue: one message per S3 record, handled one at a time as a Lambda with batch size 1 would.
  const queue: QueuedMessage[] = [];
  let busy = false;
  let stopped = false;
  let delayed = 0;
  let counter = 0;
  const idleWaiters = new Set<() => void>();
  const quiet = () => !busy && queue.length === 0 && delayed === 0;
  const wake = () => {
    if (quiet()) for (const w of idleWaiters) w();
  };
  let draining: Promise<void> = Promise.resolve();
  const drain = (): Promise<void> => {
    if (busy || stopped) return draining;
    busy = true;
    draining = drainQueue();
    return draining;
  };
  const drainQueue = async () => {
    try {
      while (queue.length && !stopped) {
        const m = queue.shift()!;
        m.receives += 1;
        const body = JSON.stringify({ Records: [m.record] });
        const { response, outcomes } = await handleSqsBatch({
          Records: [{
            messageId: m.messageId, receiptHandle: m.messageId, body, attributes: {
              ApproximateReceiveCount: String(m.receives), SentTimestamp: String(Date.now()), SenderId: "s3rver", ApproximateFirstReceiveTimestamp: String(Date.now()),
            }, messageAttributes: {}, md5OfBody: "", eventSource: "aws:sqs", eventSourceARN: "arn:aws:sqs:local:000000000000:ptyxrf-ingest", awsRegion: LOCAL_REGION,
          }],
        }, deps);
        for (const out of outcomes) o.onIngest?.(out);
        if (response.batchItemFailures.length) {
          if (m.receives >= (o.maxReceives ?? 5)) {
            fs.appendFileSync(paths.deadLetter, `${JSON.stringify({ time: new Date().toISOString(), receives: m.receives, body })}\n`);
            log.log("error", "moved to the dead-letter file after repeated failures", { messageId: m.messageId, receives: m.receives, file: paths.deadLetter });
          } else {
            delayed += 1;
            setTimeout(() => {
              delayed -= 1;
              queue.push(m);
              void drain();
            }, o.redeliveryMs ?? 1000).unref();
          }
        }
      }
    } finally {
      busy = false;
      wake();
    }
  };
  const deliver = (record: S3EventRecord) => {
    if (stopped) return;
    queue.push({ messageId: `local-${++counter}`, record, receives: 0 });
    void drain();
  };
  // Like the bucket notification of the deployed stack: uploads to the scans bucket only.
  server.onEvent((r) => {
    if (r.s3?.bucket?.name === scansBucket) deliver(r);
  });

  const info: StackInfo = {
    pid: process.pid, ...(server.pid ? { s3Pid: server.pid } : {}), endpoint, port: server.port, dataDir, scansBucket, resultsBucket,
    startedAt: new Date().toISOString(), ptyxrf: version(),
  };
  const registered = o.register !== false;
  const writeInfo = (i: StackInfo) => {
    const tmp = `${stackFile(dataDir)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(i, null, 2)}\n`);
    fs.renameSync(tmp, stackFile(dataDir));
  };
  if (registered) writeInfo(info);

  // The S3 server dying under the stack: nothing can be uploaded, ingested or saved any more.
  let onFailed: (e: ServerExit) => void = () => undefined;
  const failed = new Promise<ServerExit>((resolve) => (onFailed = resolve));
  server.onUnexpectedExit((e) => {
    if (stopped) return;
    const how = e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
    log.log("error", "the local S3 server died", { pid: e.pid, code: e.code, signal: e.signal, endpoint });
    if (registered) {
      try {
        const current = JSON.parse(fs.readFileSync(stackFile(dataDir), "utf8")) as StackInfo;
        if (current.pid === process.pid) writeInfo({ ...current, stale: `its S3 server (pid ${e.pid}) died, ${how}` });
      } catch {
        /* not registered */
      }
    }
    onFailed(e);
  });

  const resumed = runner.resumePending();
  log.log("info", "local stack started", { endpoint, dataDir, resumedJobs: resumed });

  /** Delivers every scan under incoming/ that has no finished upload record, as its lost event would have been. */
  const rescan = async (): Promise<RescanResult> => {
    const limit = o.rescanLimit ?? 100_000;
    const records = new Map<string, { etag?: string; createdAt: number; status: string; id: string }[]>();
    for (const r of uploads.list()) {
      if (r.bucket !== scansBucket) continue;
      const k = records.get(r.key) ?? [];
      k.push({ ...(r.etag ? { etag: r.etag } : {}), createdAt: r.createdAt, status: r.status, id: r.id });
      records.set(r.key, k);
    }
    const result: RescanResult = { listed: 0, delivered: [], unfinished: [], truncated: false };
    let after = "";
    for (;;) {
      const page = await server.list(scansBucket, DEFAULT_LAYOUT.incomingPrefix, after, Math.min(1000, limit - result.listed));
      for (const obj of page.objects) {
        result.listed += 1;
        if (ignoreReason(obj.key, DEFAULT_LAYOUT)) continue;
        // This version of the object (same content, written before the record was made) has a record?
        const writtenMs = Number(BigInt(`0x${obj.sequencer}`) / 1_000_000n);
        const mine = (records.get(obj.key) ?? []).filter((r) => r.etag === obj.etag && r.createdAt >= writtenMs);
        if (mine.some((r) => r.status !== "processing")) continue;
        for (const r of mine) await uploads.expireLease(r.id, Date.now());
        if (mine.length) result.unfinished.push(obj.key);
        result.delivered.push(obj.key);
        deliver({
          eventVersion: "2.1", eventSource: "aws:s3", awsRegion: LOCAL_REGION, eventTime: new Date().toISOString(), eventName: "ObjectCreated:Put",
          userIdentity: { principalId: "ptyxrf-rescan" }, requestParameters: { sourceIPAddress: "127.0.0.1" }, responseElements: { "x-amz-request-id": "rescan", "x-amz-id-2": "rescan" },
          s3: {
            s3SchemaVersion: "1.0", configurationId: "ptyxrf-rescan",
            bucket: { name: scansBucket, ownerIdentity: { principalId: "local" }, arn: `arn:aws:s3:::${scansBucket}` },
            object: { key: encodeS3Key(obj.key), size: obj.size, eTag: obj.etag, sequencer: obj.sequencer },
          },
        } as S3EventRecord);
      }
      if (!page.truncated || !page.last) break;
      if (result.listed >= limit) {
        result.truncated = true;
        break;
      }
      after = page.last;
    }
    log.log(result.truncated ? "warn" : "info", "rescanned incoming/", {
      listed: result.listed, delivered: result.delivered.length, unfinished: result.unfinished.length, truncated: result.truncated,
      ...(result.truncated ? { limit, note: "objects past the limit wait for the next start" } : {}),
    });
    return result;
  };
  let rescanned: RescanResult;
  try {
    rescanned = await rescan();
  } catch (err) {
    // the stack runs on without it: new uploads still arrive by their events
    log.log("error", "rescan of incoming/ failed: uploads queued before this start wait for the next one", errorFields(err));
    rescanned = { listed: 0, delivered: [], unfinished: [], truncated: false };
  }

  return {
    dataDir, endpoint, server, runner, uploads, scansBucket, resultsBucket, notificationsFile: paths.notifications, info,
    deliver, rescanned, rescan, failed,
    async settled(timeoutMs = 120_000) {
      const t0 = Date.now();
      for (;;) {
        if (quiet() && !runner.busy) {
          // an upload's job may be submitted right after the ingest: look twice
          await new Promise((r) => setTimeout(r, 50));
          if (quiet() && !runner.busy) return;
        }
        if (Date.now() - t0 > timeoutMs) throw new Error(`local stack not settled after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(so: { workerGraceMs?: number } = {}) {
      if (stopped) return;
      stopped = true;
      // Events still queued are dropped: the next start's rescan delivers them. The one being handled is
      // finished first (bounded by the reader's timeouts), so that its upload record is complete.
      const dropped = queue.length;
      queue.length = 0;
      await Promise.race([draining.catch(() => undefined), new Promise((r) => setTimeout(r, 60_000).unref())]);
      if (dropped) log.log("info", "stopping with uploads not yet handled: the next start delivers them", { uploads: dropped });
      await runner.stop(so.workerGraceMs);
      reader.close();
      client.destroy();
      await server.stop();
      stopFollow?.();
      try {
        const current = JSON.parse(fs.readFileSync(stackFile(dataDir), "utf8")) as StackInfo;
        if (current.pid === process.pid) fs.rmSync(stackFile(dataDir), { force: true });
      } catch {
        /* not registered */
      }
      log.log("info", "local stack stopped", { dataDir });
    },
  };
}

/**
 * The environment of a local worker (what the job definition and Batch give a worker in AWS): the local S3
 * server's endpoint and credentials, the notifications file and scratch space of the data directory.
 */
export function localWorkerEnv(endpoint: string, dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  const paths = localPaths(dataDir);
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    PTYXRF_S3_ENDPOINT: endpoint,
    PTYXRF_S3_CHECKSUMS: "WHEN_REQUIRED",
    PTYXRF_NOTIFY_FILE: paths.notifications,
    PTYXRF_SCRATCH: paths.scratch,
    PTYXRF_PROGRESS_SECONDS: "1",
    PTYXRF_HEARTBEAT_SECONDS: "5",
    PTYXRF_STOP_GRACE_SECONDS: "20",
    ...(process.env[LINK_EXPIRY_ENV] ? { [LINK_EXPIRY_ENV]: process.env[LINK_EXPIRY_ENV] } : {}),
    ...extra,
  };
}

/** The EventBridge "Batch Job State Change" event for a local job record. */
export function batchEvent(r: LocalJobRecord): BatchJobEvent {
  const last = r.attempts[r.attempts.length - 1];
  const attempts = r.attempts.filter((a) => !a.stoppedByRunner).map((a) => ({
    container: { ...(a.exitCode !== null && a.exitCode !== undefined ? { exitCode: a.exitCode } : {}), ...(a.signal ? { reason: `killed by ${a.signal}` } : {}), logStreamName: r.log },
    ...(a.signal ? { statusReason: `worker killed by ${a.signal}` } : {}),
  }));
  return {
    version: "0", id: `local-${r.jobId}`, "detail-type": "Batch Job State Change", source: "aws.batch", account: "000000000000",
    time: new Date(r.stoppedAt ?? Date.now()).toISOString(), region: LOCAL_REGION, resources: [], detail: {
      jobName: r.jobName, jobId: r.jobId, jobQueue: "local", status: r.status, ...(r.statusReason ? { statusReason: r.statusReason } : {}),
      parameters: r.parameters,
      container: { ...(last?.exitCode !== null && last?.exitCode !== undefined ? { exitCode: last.exitCode } : {}), logStreamName: r.log },
      attempts, createdAt: r.createdAt, ...(r.startedAt ? { startedAt: r.startedAt } : {}), ...(r.stoppedAt ? { stoppedAt: r.stoppedAt } : {}),
    },
  };
}
