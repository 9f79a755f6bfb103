/**
 * The worker's exit codes, matched by the Batch job definition's retry strategy (infra/stack.ts) and by the
 * local job runner, which applies the same rules:
 *
 *   0   done: the run folder is complete (manifest.json written last), or was already complete
 *   2   invalid input: bad arguments or config, a scan that fails validation or cannot be read (every
 *       frame is checked as it loads), a scan version that no longer exists, a run whose losses or results
 *       became NaN or infinite (no outputs are written). Never retried (INVALID_INPUT_EXIT_CODE, as the CLI).
 *   75  transient failure, retry (EX_TEMPFAIL): S3 still failing after the backoff, a notification that
 *       could not be sent, or a stop request (SIGTERM: Spot reclaim, scale-in) after the final checkpoint.
 *       The next attempt resumes from the checkpoint.
 *   1   internal failure (a bug, a misconfigured deployment): not retried, since a deterministic solver
 *       that failed once fails again.
 */
import { INVALID_INPUT_EXIT_CODE } from "../submit/jobSpec.js";

export const EXIT = {
  ok: 0,
  internal: 1,
  invalidInput: INVALID_INPUT_EXIT_CODE,
  retryable: 75,
} as const;

/**
 * The job's attempts (the job definition's retry attempts, which the stack sets in the container's
 * environment; the local runner too): a sweep child records its task's failure on its last attempt.
 */
export const JOB_ATTEMPTS_ENV = "PTYXRF_JOB_ATTEMPTS";
export const DEFAULT_JOB_ATTEMPTS = 3;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What the retry strategy does with an exit code (the job definition and the local runner agree). */
export function retryDecision(exitCode: number | null, signal: NodeJS.Signals | null): "done" | "retry" | "fail" {
  if (exitCode === EXIT.ok) return "done";
  if (exitCode === EXIT.retryable) return "retry";
  // Killed without exiting (SIGKILL after the stop timeout, OOM, the host lost): like "Host EC2*", retried.
  if (exitCode === null && signal) return "retry";
  return "fail";
}
