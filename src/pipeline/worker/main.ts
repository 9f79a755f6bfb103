/**
 * The worker process: arguments and environment in, an exit code out (exitCodes.ts). container/worker.ts
 * calls `workerMain` and nothing else; the local job runner starts that same file in a child process with
 * the same arguments and environment contract as Batch.
 *
 * Environment (all optional except where the deployment needs them):
 *   AWS_REGION / AWS_DEFAULT_REGION            region (Batch sets it)
 *   AWS_BATCH_JOB_ID, AWS_BATCH_JOB_ATTEMPT    set by Batch (and the local runner)
 *   PTYXRF_S3_ENDPOINT | AWS_ENDPOINT_URL_S3 | AWS_ENDPOINT_URL    an S3-compatible endpoint (local, LocalStack)
 *   PTYXRF_S3_CHECKSUMS=WHEN_REQUIRED          for s3rver
 *   PTYXRF_TOPIC_ARN                           SNS topic for the completion notification
 *   PTYXRF_NOTIFY_FILE                         ...or a JSON-lines file (local profile)
 *   PTYXRF_SCRATCH                             local scratch folder (default: the OS temp folder)
 *   PTYXRF_CHECKPOINT_EVERY, PTYXRF_CHECKPOINT_MINUTES   checkpoint cadence (default 50 iterations / 5 min)
 *   PTYXRF_PROGRESS_SECONDS                    progress.json updates (default 10 s)
 *   PTYXRF_S3_ATTEMPTS                         attempts per S3 request, with backoff (default 8: ~26 s)
 *   PTYXRF_S3_DEADLINE_SECONDS                 S3 failing this long without one success: give up, exit 75
 *                                              (default 180; transfer.ts)
 *   PTYXRF_HEARTBEAT_SECONDS                   heartbeat in progress.json (default 30; heartbeat.ts)
 *   PTYXRF_LINK_EXPIRY_SECONDS                 the notification's presigned links (1..604800, default 7 days)
 *   PTYXRF_STOP_GRACE_SECONDS                  after SIGTERM, exit 75 at the latest after this (default 25 s,
 *                                              inside ECS's 30 s stop timeout)
 *   PTYXRF_ENGINE                              engine override (the GPU image sets it)
 *   PTYXRF_TASK_LIST, AWS_BATCH_JOB_ARRAY_INDEX a sweep's task list and this child's task (job.ts parseWorkerMode)
 *   PTYXRF_JOB_ATTEMPTS                        the job's attempts (sweep children record a failure on the last)
 */
import os from "node:os";
import path from "node:path";
import { SNSClient } from "@aws-sdk/client-sns";
import { ScanFormatError } from "../../scan/read.js";
import { makeS3Client } from "../../scan/s3Client.js";
import type { S3ClientSettings } from "../../scan/s3Source.js";
import { ConfigError } from "../../solver/config.js";
import { NonFiniteError } from "../../solver/finite.js";
import { cadenceFromEnv } from "../checkpoint/policy.js";
import { consoleLogger, errorFields, type Logger } from "../ingest/log.js";
import { JsonLinesNotifier } from "../local/notifications.js";
import { linkExpiryFromEnv } from "../notify/links.js";
import { SnsNotifier, type Notification, type Notifier } from "../notify/notifier.js";
import { EXIT } from "./exitCodes.js";
import { aggregateSweep } from "../sweep/aggregate.js";
import { finishSweepChild, jobAttemptsFrom, taskIndexFrom } from "../sweep/child.js";
import { readTaskList, taskArgv, TaskListError } from "../sweep/tasks.js";
import { DeploymentError, JobInputError, parseWorkerJob, parseWorkerMode, type WorkerJob } from "./job.js";
import { heartbeatSecondsFrom, HEARTBEAT_ENV } from "./heartbeat.js";
import { DEFAULT_S3_DEADLINE_SECONDS, isTransient, S3_DEADLINE_ENV, S3DeadlineError, S3Transfer } from "./transfer.js";
import { InterruptedError, runWorker, StopSignal } from "./worker.js";

/** S3 client settings for the worker from its environment. */
export function workerS3Settings(env: NodeJS.ProcessEnv): S3ClientSettings {
  const endpoint = env.PTYXRF_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  const checksums = env.PTYXRF_S3_CHECKSUMS;
  return {
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(checksums === "WHEN_REQUIRED" || checksums === "WHEN_SUPPORTED" ? { checksums } : {}),
    maxAttempts: 3,
  };
}

/** Writes notifications to the log only (no topic configured; a sweep's tasks, which notify once together). */
export class LogNotifier implements Notifier {
  constructor(private readonly log: Logger, private readonly why = "no PTYXRF_TOPIC_ARN or PTYXRF_NOTIFY_FILE: logged only") {}
  async publish(n: Notification): Promise<undefined> {
    this.log.log("info", `notification (${this.why})`, { user: n.user, kind: n.kind, subject: n.subject, details: n.details });
    return undefined;
  }
}

export function workerNotifier(env: NodeJS.ProcessEnv, log: Logger, jobId: string): Notifier {
  if (env.PTYXRF_NOTIFY_FILE) return new JsonLinesNotifier(env.PTYXRF_NOTIFY_FILE, `worker ${jobId}`);
  if (env.PTYXRF_TOPIC_ARN) {
    const endpoint = env.AWS_ENDPOINT_URL_SNS || env.AWS_ENDPOINT_URL;
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
    return new SnsNotifier(new SNSClient({ ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}) }), env.PTYXRF_TOPIC_ARN);
  }
  return new LogNotifier(log);
}

export interface WorkerMainOptions {
  log?: Logger;
  /** The stop signal; the caller wires SIGTERM to it (installSignalHandlers). */
  stop?: StopSignal;
}

export const WORKER_USAGE = `Usage: node dist/container/worker.js --scan s3://BUCKET/KEY --scan-version VERSION|etag:ETAG
         --out s3://BUCKET/PREFIX/ --config JSON --user USER [--truth s3://BUCKET/KEY] [--engine NAME]
       node dist/container/worker.js --task-list s3://BUCKET/.../tasks.json [--task-index N]
       node dist/container/worker.js --aggregate s3://BUCKET/.../

Reconstructs one scan into the run folder --out (result.h5, metrics.json, previews, manifest.json last),
with checkpoints under --out/_checkpoint/, and publishes a completion notification.
--task-list: one task of a sweep (index: --task-index, else AWS_BATCH_JOB_ARRAY_INDEX); a task that fails
for good is recorded in its folder (failure.json) and the child exits 0 (docs/sweeps.md).
--aggregate: the sweep's summary (sweep.json, sweep.csv, report.html) and one notification.
Exit codes: 0 done, 2 invalid input (never retried), 75 retry (transient failure or stopped by SIGTERM after
a checkpoint), 1 internal failure. Environment: see src/pipeline/worker/main.ts.`;

/** Runs one job; returns the exit code. Never throws. */
export async function workerMain(argv: string[], env: NodeJS.ProcessEnv = process.env, o: WorkerMainOptions = {}): Promise<number> {
  const log = o.log ?? consoleLogger;
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${WORKER_USAGE}\n`);
    return EXIT.ok;
  }
  let mode;
  try {
    mode = parseWorkerMode(argv, env);
  } catch (err) {
    log.log("error", "invalid job input", { problems: (err as JobInputError).problems });
    return EXIT.invalidInput;
  }
  const { cadence, problems } = cadenceFromEnv(env);
  // a bad link expiry does not stop a run: its notification goes without links and says why
  let linkExpiry: number | undefined;
  try {
    linkExpiry = linkExpiryFromEnv(env);
  } catch (err) {
    log.log("warn", "no download links in notifications", errorFields(err));
  }
  const deadlineText = env[S3_DEADLINE_ENV];
  const deadlineSeconds = deadlineText === undefined ? DEFAULT_S3_DEADLINE_SECONDS : Number(deadlineText);
  if (!(Number.isFinite(deadlineSeconds) && deadlineSeconds > 0)) problems.push(`${S3_DEADLINE_ENV} must be a positive number of seconds, got "${deadlineText}"`);
  const heartbeatSeconds = heartbeatSecondsFrom(env);
  if (heartbeatSeconds === null) problems.push(`${HEARTBEAT_ENV} must be a positive number of seconds, got "${env[HEARTBEAT_ENV]}"`);
  if (problems.length) {
    log.log("error", "worker misconfigured", { problems });
    return EXIT.internal;
  }
  let job: WorkerJob | undefined;
  if (mode.kind === "job") {
    try {
      job = parseWorkerJob(argv, env);
    } catch (err) {
      if (err instanceof JobInputError) {
        log.log("error", "invalid job input", { problems: err.problems });
        return EXIT.invalidInput;
      }
      log.log("error", "worker misconfigured", errorFields(err));
      return EXIT.internal;
    }
  }
  const settings = workerS3Settings(env);
  const client = makeS3Client(settings);
  const attempts = Number(env.PTYXRF_S3_ATTEMPTS ?? "8");
  const transfer = new S3Transfer(client, {
    retry: {
      ...(Number.isInteger(attempts) && attempts >= 1 ? { attempts } : {}), deadlineMs: deadlineSeconds * 1000,
      onRetry: ({ what, attempt, delayMs, error }) => log.log("warn", "S3 request failed, retrying", { what, attempt, delayMs, ...errorFields(error) }),
    },
  });
  const progressSeconds = Number(env.PTYXRF_PROGRESS_SECONDS ?? "10");
  const stop = o.stop ?? new StopSignal();
  const run = async (j: WorkerJob, notifier: Notifier): Promise<void> => {
    await runWorker(j, {
      transfer, log, stop, cadence, notifier,
      scratch: path.join(env.PTYXRF_SCRATCH || os.tmpdir(), `ptyxrf-${j.jobId.replace(/[^A-Za-z0-9_.-]/g, "_")}-${j.attempt}`),
      progressMs: Number.isFinite(progressSeconds) && progressSeconds >= 0 ? progressSeconds * 1000 : 10_000,
      heartbeatMs: heartbeatSeconds! * 1000,
      ...(settings.region ? { region: settings.region } : {}),
      consoleLinks: !settings.endpoint,
      ...(linkExpiry !== undefined ? { linkExpirySeconds: linkExpiry } : {}),
    });
  };
  try {
    if (mode.kind === "aggregate") return await aggregateMain(mode.prefix, transfer, env, log);
    if (mode.kind === "task") return await sweepTaskMain(mode, transfer, env, log, run);
    await run(job!, workerNotifier(env, log, job!.jobId));
    return EXIT.ok;
  } catch (err) {
    return exitCodeFor(err, log);
  } finally {
    client.destroy();
  }
}

/** One task of a sweep: pick it from the list, run it like a job, record a permanent failure (sweep/child.ts). */
async function sweepTaskMain(
  mode: { taskList: string; taskIndex?: string }, transfer: S3Transfer, env: NodeJS.ProcessEnv, log: Logger,
  run: (job: WorkerJob, notifier: Notifier) => Promise<void>,
): Promise<number> {
  let list;
  try {
    list = await readTaskList(transfer, mode.taskList);
  } catch (err) {
    if (!(err instanceof TaskListError)) throw err;
    log.log("error", "invalid job input", { problems: [err.message] });
    return EXIT.invalidInput;
  }
  const picked = taskIndexFrom(mode.taskIndex, env, list.tasks.length);
  if ("problem" in picked) {
    log.log("error", "invalid job input", { problems: [picked.problem], taskList: mode.taskList });
    return EXIT.invalidInput;
  }
  const task = list.tasks[picked.index];
  const attempt = Number(env.AWS_BATCH_JOB_ATTEMPT ?? "1");
  const common = { task, attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1, attempts: jobAttemptsFrom(env), jobId: env.AWS_BATCH_JOB_ID ?? `adhoc-${process.pid}`, transfer, log };
  log.log("info", "sweep task", { sweep: `${list.name}-${list.sweepId}`, task: task.id, index: task.index, of: list.tasks.length, scan: task.scan, params: task.params, out: task.out });
  let job: WorkerJob;
  try {
    job = parseWorkerJob(taskArgv(task), env);
  } catch (err) {
    if (!(err instanceof JobInputError)) throw err;
    return finishSweepChild({ ...common, code: EXIT.invalidInput, error: err });
  }
  try {
    await run(job, new LogNotifier(log, "a sweep task: the sweep notifies once, from its aggregation"));
    return EXIT.ok;
  } catch (err) {
    const code = exitCodeFor(err, log);
    if (err instanceof DeploymentError) return code; // the deployment, not this task: fail loudly
    return finishSweepChild({ ...common, code, error: err });
  }
}

/** A sweep's aggregation: the summary files, then one notification. */
async function aggregateMain(prefix: string, transfer: S3Transfer, env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  let result;
  try {
    result = await aggregateSweep(transfer, prefix);
  } catch (err) {
    if (!(err instanceof TaskListError)) throw err;
    log.log("error", "invalid job input", { problems: [err.message] });
    return EXIT.invalidInput;
  }
  const { counts, rankBy } = result.summary;
  log.log("info", "sweep aggregated", { prefix, ...counts, rankBy, ...result.uris });
  const jobId = env.AWS_BATCH_JOB_ID ?? `adhoc-${process.pid}`;
  await workerNotifier(env, log, jobId).publish(result.notification);
  return EXIT.ok;
}

export function exitCodeFor(err: unknown, log: Logger): number {
  if (err instanceof InterruptedError) return EXIT.retryable;
  if (err instanceof JobInputError || err instanceof ConfigError || err instanceof ScanFormatError || err instanceof NonFiniteError) {
    if (!(err instanceof JobInputError)) log.log("error", "invalid input", errorFields(err));
    return EXIT.invalidInput;
  }
  if (err instanceof DeploymentError) {
    log.log("error", "worker misconfigured", errorFields(err));
    return EXIT.internal;
  }
  if (err instanceof S3DeadlineError) {
    log.log("error", "S3 kept failing past the deadline: giving up; the job will be retried and resume from its last checkpoint", {
      ...errorFields(err), failingSeconds: Math.round(err.failingForMs / 1000), deadlineSeconds: err.deadlineMs / 1000,
    });
    return EXIT.retryable;
  }
  if (isTransient(err)) {
    log.log("error", "transient failure: the job will be retried", errorFields(err));
    return EXIT.retryable;
  }
  // A notification that could not be sent (SNS down) is worth a retry: the retry finds the manifest and re-sends.
  const name = (err as { name?: string })?.name ?? "";
  if (/Throttl|ServiceUnavailable|InternalError/.test(name)) {
    log.log("error", "transient failure: the job will be retried", errorFields(err));
    return EXIT.retryable;
  }
  log.log("error", "internal failure", { ...errorFields(err), stack: (err as Error)?.stack });
  return EXIT.internal;
}

/**
 * SIGTERM / SIGINT: the first asks for a final checkpoint and a clean exit (75); a second, or the grace
 * period running out, exits with 75 at once. Returns a function that removes the handlers.
 */
export function installSignalHandlers(stop: StopSignal, log: Logger, graceMs: number, exit: (code: number) => void = (c) => process.exit(c)): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.requested) {
      log.log("warn", "second stop signal: exiting now", { signal });
      exit(EXIT.retryable);
      return;
    }
    log.log("warn", "stop requested: final checkpoint after this iteration, then exit", { signal, graceMs });
    stop.request(signal);
    setTimeout(() => {
      log.log("error", "stop grace period over: exiting without a final checkpoint", { graceMs });
      exit(EXIT.retryable);
    }, graceMs).unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return () => {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  };
}
