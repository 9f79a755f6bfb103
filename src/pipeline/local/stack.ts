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
 */
import fs from "node:fs";
import path from "node:path";
import type { S3EventRecord } from "aws-lambda";
import { makeS3Client } from "../../scan/s3Client.js";
import { S3RangeReader } from "../../scan/s3Source.js";
import { DEFAULT_SETTINGS, rangeOpener, type IngestDeps, type IngestOutcome } from "../ingest/ingest.js";
import { errorFields, type Logger, type LogLevel } from "../ingest/log.js";
import { handleSqsBatch } from "../ingest/sqs.js";
import { handleJobStateChange, type BatchJobEvent } from "../notify/batchEvents.js";
import { LINK_EXPIRY_ENV } from "../notify/links.js";
import { FileIdempotencyStore } from "../storage/idempotency.js";
import { S3ObjectStore } from "../storage/objectStore.js";
import { version } from "../../version.js";
import { JsonLinesNotifier, type NotificationLine } from "./notifications.js";
import { LocalJobRunner, type LocalJobRecord } from "./runner.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION, S3Server } from "./s3server.js";
import { LOCAL_RESULTS_BUCKET, LOCAL_SCANS_BUCKET, localPaths, runningStack, stackFile, type StackInfo } from "./layout.js";

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
  stop(): Promise<void>;
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
  const other = runningStack(dataDir);
  if (other && other.pid !== process.pid) {
    throw new Error(`a local stack is already running on ${dataDir} (pid ${other.pid}, ${other.endpoint}): use it, or stop it first`);
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
  const drain = async () => {
    if (busy || stopped) return;
    busy = true;
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
    pid: process.pid, endpoint, port: server.port, dataDir, scansBucket, resultsBucket, startedAt: new Date().toISOString(), ptyxrf: version(),
  };
  if (o.register !== false) fs.writeFileSync(stackFile(dataDir), `${JSON.stringify(info, null, 2)}\n`);
  const resumed = runner.resumePending();
  log.log("info", "local stack started", { endpoint, dataDir, resumedJobs: resumed });

  return {
    dataDir, endpoint, server, runner, uploads, scansBucket, resultsBucket, notificationsFile: paths.notifications, info,
    deliver,
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
    async stop() {
      if (stopped) return;
      stopped = true;
      queue.length = 0;
      await runner.stop();
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
