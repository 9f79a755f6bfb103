/**
 * The contract between the ingest Lambda and the Batch worker: a job's name and its parameters.
 *
 * Parameters (strings; the job definition's command references them as `Ref::<name>`):
 *   scanUri       s3://<bucket>/<key> of the scan
 *   scanVersion   the S3 version id, or `etag:<etag>` on an unversioned bucket (read with If-Match)
 *   resultPrefix  s3://<results bucket>/results/<user>/<scan path without extension>/<upload tag>/
 *   config        the resolved solver config as JSON (every field filled, so a later change of defaults
 *                 does not change what an accepted upload runs)
 *   user          who uploaded (from incoming/<user>/...), for notifications
 */
import type { SolverConfig } from "../../solver/config.js";

export interface JobSpec {
  jobName: string;
  parameters: JobParameters;
  /**
   * The container's command instead of the job definition's (SubmitJob containerOverrides.command;
   * `Ref::name` is substituted as in the definition). Sweeps use it for `--task-list` and `--aggregate`.
   */
  command?: string[];
  /** An array job of this many children (2..10,000); each child gets AWS_BATCH_JOB_ARRAY_INDEX. */
  arraySize?: number;
  /** Job ids this job waits for (SubmitJob dependsOn; on an array job: all of its children). */
  dependsOn?: string[];
}

/** AWS Batch's limits on an array job's size. */
export const MIN_ARRAY_SIZE = 2;
export const MAX_ARRAY_SIZE = 10_000;

export interface JobParameters {
  scanUri: string;
  scanVersion: string;
  resultPrefix: string;
  config: string;
  user: string;
  [name: string]: string;
}

/** Placeholders for the job definition's default parameters (every Ref:: in the command has one). */
export const DEFAULT_JOB_PARAMETERS: JobParameters = {
  scanUri: "s3://none/none.h5",
  scanVersion: "none",
  resultPrefix: "s3://none/none/",
  config: "{}",
  user: "_unknown",
};

/** The worker's command line in the job definition. */
export const WORKER_COMMAND = [
  "node", "dist/container/worker.js",
  "--scan", "Ref::scanUri", "--scan-version", "Ref::scanVersion",
  "--out", "Ref::resultPrefix", "--config", "Ref::config", "--user", "Ref::user",
];

/** Exit code of the worker for invalid input (as the CLI): never retried. */
export const INVALID_INPUT_EXIT_CODE = 2;

/**
 * A Batch job name (letters, digits, hyphens, underscores; at most 128; starting alphanumeric), deterministic
 * for one upload: readable part from user and scan path, then the upload tag (from bucket, key, version and
 * metadata config) that makes it unique.
 */
export function jobName(user: string, scanStem: string, uploadTag: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/-+/g, "-").replace(/^[-_]+|[-_]+$/g, "");
  const tail = `-${uploadTag}`;
  const head = `ptyxrf-${clean(user) || "user"}-${clean(scanStem) || "scan"}`;
  return head.slice(0, 128 - tail.length).replace(/[-_]+$/, "") + tail;
}

export function jobSpec(args: {
  user: string; scanStem: string; uploadTag: string; bucket: string; key: string;
  versionId?: string; etag: string; resultsBucket: string; resultPrefix: string; config: SolverConfig;
}): JobSpec {
  return {
    jobName: jobName(args.user, args.scanStem, args.uploadTag),
    parameters: {
      scanUri: `s3://${args.bucket}/${args.key}`,
      scanVersion: args.versionId ?? `etag:${args.etag}`,
      resultPrefix: `s3://${args.resultsBucket}/${args.resultPrefix}`,
      config: JSON.stringify(args.config),
      user: args.user,
    },
  };
}
