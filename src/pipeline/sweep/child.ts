/**
 * One child of a sweep's array job, and why a failed child does not sink the sweep.
 *
 * In AWS Batch an array job whose child FAILED is FAILED, and a job that depends on a FAILED job fails too:
 * one bad scan would cancel the aggregation of a thousand good ones. So a sweep child exits 0 whenever it
 * has recorded what happened to its task:
 *
 *   worker exit 0                      done (the task's folder has its manifest)
 *   exit 2 (invalid input), 1 (bug)    permanent: failure.json in the task's folder, exit 0
 *   exit 75 (transient), attempts left exit 75: Batch retries the child, which resumes from its checkpoint
 *   exit 75 on the last attempt        failure.json ("transient failure on the last attempt"), exit 0
 *   failure.json cannot be written     exit 75 (and, on the last attempt, the child fails: see docs/sweeps.md)
 *
 * The last attempt is AWS_BATCH_JOB_ATTEMPT >= PTYXRF_JOB_ATTEMPTS (the job definition's retry attempts,
 * which the stack puts in the container's environment; the local runner sets it too).
 */
import { DEFAULT_JOB_ATTEMPTS, EXIT, JOB_ATTEMPTS_ENV } from "../worker/exitCodes.js";
import { errorFields, type Logger } from "../ingest/log.js";
import type { S3Transfer } from "../worker/transfer.js";
import { ARRAY_INDEX_ENV, locationIn, TASK_FAILURE, type SweepTask } from "./tasks.js";

export interface TaskFailure {
  kind: "ptyxrf-sweep-task-failure";
  index: number;
  id: string;
  scan: string;
  /** The worker's exit code for the task. */
  exitCode: number;
  reason: "invalid-input" | "internal" | "transient";
  attempt: number;
  attempts: number;
  error: string;
  problems?: string[];
  jobId: string;
  at: string;
}

export type ChildDecision = "done" | "retry" | "record";

/** What a sweep child does with its task's exit code on this attempt. */
export function sweepChildDecision(code: number, attempt: number, attempts: number): ChildDecision {
  if (code === EXIT.ok) return "done";
  if (code === EXIT.retryable && attempt < attempts) return "retry";
  return "record";
}

export function jobAttemptsFrom(env: NodeJS.ProcessEnv): number {
  const n = Number(env[JOB_ATTEMPTS_ENV] ?? DEFAULT_JOB_ATTEMPTS);
  return Number.isInteger(n) && n >= 1 ? n : DEFAULT_JOB_ATTEMPTS;
}

/** The child's task index: --task-index (a single-task sweep, manual reruns) or AWS_BATCH_JOB_ARRAY_INDEX. */
export function taskIndexFrom(arg: string | undefined, env: NodeJS.ProcessEnv, taskCount: number): { index: number } | { problem: string } {
  const raw = arg ?? env[ARRAY_INDEX_ENV];
  const from = arg !== undefined ? "--task-index" : ARRAY_INDEX_ENV;
  if (raw === undefined || raw === "") return { problem: `no task index: ${ARRAY_INDEX_ENV} is not set (not an array job child?) and no --task-index was given` };
  const index = Number(raw);
  if (!Number.isInteger(index) || index < 0 || index >= taskCount) return { problem: `${from}=${raw} is not a task of this list (0..${taskCount - 1})` };
  return { index };
}

function reasonOf(code: number): TaskFailure["reason"] {
  return code === EXIT.invalidInput ? "invalid-input" : code === EXIT.retryable ? "transient" : "internal";
}

/**
 * The child's exit code after its task ended with `code` (`error`: what ended it). Records the failure
 * when the task failed for good.
 */
export async function finishSweepChild(o: {
  task: SweepTask; code: number; error?: unknown; attempt: number; attempts: number; jobId: string;
  transfer: S3Transfer; log: Logger; now?: () => Date;
}): Promise<number> {
  const decision = sweepChildDecision(o.code, o.attempt, o.attempts);
  const fields = { task: o.task.id, index: o.task.index, exitCode: o.code, attempt: o.attempt, attempts: o.attempts };
  if (decision === "done") return EXIT.ok;
  if (decision === "retry") {
    o.log.log("warn", "sweep task: transient failure, the child will be retried", fields);
    return EXIT.retryable;
  }
  const e = o.error as { message?: string; problems?: string[] } | undefined;
  const problems = Array.isArray(e?.problems) ? e!.problems : undefined;
  const message = e?.message ?? (o.code === EXIT.ok ? "" : `the worker exited ${o.code}`);
  const failure: TaskFailure = {
    kind: "ptyxrf-sweep-task-failure", index: o.task.index, id: o.task.id, scan: o.task.scan, exitCode: o.code, reason: reasonOf(o.code),
    attempt: o.attempt, attempts: o.attempts,
    error: o.code === EXIT.retryable ? `transient failure on the last attempt (${o.attempt} of ${o.attempts}): ${message}` : message,
    ...(problems ? { problems } : {}), jobId: o.jobId, at: (o.now?.() ?? new Date()).toISOString(),
  };
  try {
    await o.transfer.putJson(locationIn(o.task.out, TASK_FAILURE), failure);
  } catch (err) {
    o.log.log("error", "sweep task: could not record the failure", { ...fields, ...errorFields(err) });
    return EXIT.retryable;
  }
  o.log.log("warn", "sweep task failed; recorded, the sweep goes on", { ...fields, reason: failure.reason, error: failure.error });
  return EXIT.ok;
}
