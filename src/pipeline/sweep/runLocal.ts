/**
 * A staged sweep on this machine: the same two jobs as on AWS Batch (sweep/submit.ts), run by the local job
 * runner (array children `parallel` at a time, default 2; the aggregation when they have all ended), with
 * the local stack's S3 endpoint and data directory. Resolves with the job records once the aggregation ended.
 */
import { localPaths } from "../local/layout.js";
import { LocalJobRunner, type LocalJobRecord } from "../local/runner.js";
import { localWorkerEnv } from "../local/stack.js";
import { submitSweepJobs, type SweepSubmission } from "./submit.js";
import type { TaskList } from "./tasks.js";

export const DEFAULT_LOCAL_PARALLEL = 2;

export interface LocalSweepOptions {
  /** The local S3 server (the running stack's endpoint). */
  endpoint: string;
  dataDir: string;
  /** Workers at once (default 2). */
  parallel?: number;
  /** Attempts per task (default 3, as the job definition). */
  attempts?: number;
  /** Extra worker environment (tests: checkpoint cadence...). */
  workerEnv?: Record<string, string>;
  onStatus?: (record: LocalJobRecord) => void;
  /** Give up waiting after this long (default: no limit). */
  timeoutMs?: number;
  /** Where dist/container/worker.js is (default: the package root). */
  cwd?: string;
  retryDelayMs?: number;
}

export interface LocalSweepRun {
  submission: SweepSubmission;
  runner: LocalJobRunner;
  /** Resolves with the aggregation job's record (and the array job's) once the aggregation has ended. */
  done: Promise<{ tasks: LocalJobRecord; aggregate: LocalJobRecord }>;
}

export async function runSweepLocally(list: TaskList, tasksUri: string, o: LocalSweepOptions): Promise<LocalSweepRun> {
  const runner = new LocalJobRunner({
    dir: localPaths(o.dataDir).jobs,
    concurrency: o.parallel ?? DEFAULT_LOCAL_PARALLEL,
    attempts: o.attempts ?? 3,
    env: localWorkerEnv(o.endpoint, o.dataDir, o.workerEnv),
    ...(o.onStatus ? { onStatus: o.onStatus } : {}),
    ...(o.cwd ? { cwd: o.cwd } : {}),
    ...(o.retryDelayMs !== undefined ? { retryDelayMs: o.retryDelayMs } : {}),
  });
  const submission = await submitSweepJobs(runner, list, tasksUri);
  const done = (async () => {
    const aggregate = await runner.waitFor(submission.aggregateJob.jobId, o.timeoutMs ?? Number.POSITIVE_INFINITY);
    return { tasks: runner.get(submission.arrayJob.jobId)!, aggregate };
  })();
  return { submission, runner, done };
}
