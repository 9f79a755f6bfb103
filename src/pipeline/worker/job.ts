/**
 * The worker's job, as the Batch job definition passes it (src/pipeline/submit/jobSpec.ts WORKER_COMMAND):
 *
 *   node dist/container/worker.js --scan s3://B/K --scan-version V --out s3://R/P/ --config JSON --user U
 *                                 [--truth s3://B/K] [--engine NAME]
 *
 * Each argument may also come from the environment (PTYXRF_SCAN_URI, PTYXRF_SCAN_VERSION, PTYXRF_RESULT_PREFIX,
 * PTYXRF_CONFIG, PTYXRF_USER, PTYXRF_TRUTH_URI, PTYXRF_ENGINE); arguments win. Batch itself sets
 * AWS_BATCH_JOB_ID and AWS_BATCH_JOB_ATTEMPT (1, 2, ...), which the worker reports and logs.
 *
 * The engine: `--engine`, else PTYXRF_ENGINE (set by the GPU image: the deployment picks the hardware),
 * else the config's own `engine`.
 */
import { parseArgs } from "node:util";
import { isEngineName } from "../../engine/index.js";
import { ConfigError, resolveConfig, type SolverConfig } from "../../solver/config.js";
import { maskKeyProblem } from "../maskKey.js";
import { parseS3Uri, type S3Location } from "./transfer.js";

export interface WorkerJob {
  scan: S3Location;
  scanUri: string;
  /** An S3 version id, or etag:<etag> (unversioned buckets). */
  scanVersion: string;
  /** The run's folder: bucket and key prefix ending in "/". */
  out: S3Location;
  outUri: string;
  config: SolverConfig;
  user: string;
  /** Ground truth for errors (simulated scans); null when none was given. */
  truth: S3Location | null;
  jobId: string;
  attempt: number;
}

/** The job's input is invalid: exit code 2, never retried. */
export class JobInputError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid job input: ${problems.join("; ")}`);
    this.name = "JobInputError";
  }
}

/** The deployment is misconfigured (e.g. an unknown engine in PTYXRF_ENGINE): exit 1, not the user's input. */
export class DeploymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeploymentError";
  }
}

export const JOB_ENV = {
  scanUri: "PTYXRF_SCAN_URI",
  scanVersion: "PTYXRF_SCAN_VERSION",
  resultPrefix: "PTYXRF_RESULT_PREFIX",
  config: "PTYXRF_CONFIG",
  user: "PTYXRF_USER",
  truthUri: "PTYXRF_TRUTH_URI",
  engine: "PTYXRF_ENGINE",
} as const;

/**
 * What the worker process does: one job (the job definition's arguments), one task of a sweep's task list
 * (`--task-list s3://.../tasks.json [--task-index N]`, or PTYXRF_TASK_LIST; the index defaults to
 * AWS_BATCH_JOB_ARRAY_INDEX: src/pipeline/sweep/child.ts), or a sweep's aggregation (`--aggregate s3://.../`).
 */
export type WorkerMode =
  | { kind: "job" }
  | { kind: "task"; taskList: string; taskIndex?: string }
  | { kind: "aggregate"; prefix: string };

export const TASK_LIST_ENV = "PTYXRF_TASK_LIST";

export function parseWorkerMode(argv: string[], env: NodeJS.ProcessEnv = process.env): WorkerMode {
  const named = (flag: string) => argv.some((a) => a === flag || a.startsWith(`${flag}=`));
  const sweepArgs = named("--task-list") || named("--task-index") || named("--aggregate");
  if (!sweepArgs && (named("--scan") || !env[TASK_LIST_ENV])) return { kind: "job" };
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { "task-list": { type: "string" }, "task-index": { type: "string" }, aggregate: { type: "string" } },
      allowPositionals: false,
      strict: true,
    }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new JobInputError([`${(err as Error).message} (--task-list and --aggregate take no job arguments)`]);
  }
  if (values.aggregate !== undefined) {
    if (values["task-list"] !== undefined || values["task-index"] !== undefined) throw new JobInputError(["--aggregate cannot be combined with --task-list or --task-index"]);
    const prefix = parseS3Uri(values.aggregate);
    if (!prefix || !prefix.key.endsWith("/")) throw new JobInputError([`--aggregate expects the sweep's folder s3://bucket/prefix/ (ending in /), got "${values.aggregate}"`]);
    return { kind: "aggregate", prefix: values.aggregate };
  }
  const taskList = values["task-list"] ?? env[TASK_LIST_ENV];
  if (!taskList) throw new JobInputError([`--task-index needs --task-list s3://bucket/key (or ${TASK_LIST_ENV})`]);
  return { kind: "task", taskList, ...(values["task-index"] !== undefined ? { taskIndex: values["task-index"] } : {}) };
}

export function parseWorkerJob(argv: string[], env: NodeJS.ProcessEnv = process.env): WorkerJob {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        scan: { type: "string" }, "scan-version": { type: "string" }, out: { type: "string" }, config: { type: "string" },
        user: { type: "string" }, truth: { type: "string" }, engine: { type: "string" },
      },
      allowPositionals: false,
      strict: true,
    }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new JobInputError([(err as Error).message]);
  }
  const pick = (arg: string, name: keyof typeof JOB_ENV) => {
    const v = values[arg] ?? env[JOB_ENV[name]];
    return v === "" ? undefined : v;
  };
  const problems: string[] = [];
  const scanUri = pick("scan", "scanUri");
  const scan = scanUri ? parseS3Uri(scanUri) : null;
  if (!scanUri) problems.push("--scan s3://bucket/key is required");
  else if (!scan || !scan.key || scan.key.endsWith("/")) problems.push(`--scan expects s3://bucket/key, got "${scanUri}"`);
  const scanVersion = pick("scan-version", "scanVersion");
  if (!scanVersion) problems.push("--scan-version (an S3 version id or etag:<etag>) is required");
  const outUri = pick("out", "resultPrefix");
  const out = outUri ? parseS3Uri(outUri) : null;
  if (!outUri) problems.push("--out s3://bucket/prefix/ is required");
  else if (!out || !out.key.endsWith("/") || out.key === "/") problems.push(`--out expects s3://bucket/prefix/ (ending in /), got "${outUri}"`);
  const user = pick("user", "user") ?? "_unknown";
  const truthUri = pick("truth", "truthUri");
  const truth = truthUri ? parseS3Uri(truthUri) : null;
  if (truthUri && (!truth || !truth.key)) problems.push(`--truth expects s3://bucket/key, got "${truthUri}"`);

  let input: unknown = {};
  const configText = pick("config", "config");
  if (configText) {
    try {
      input = JSON.parse(configText);
    } catch (err) {
      problems.push(`--config is not JSON: ${(err as Error).message}`);
    }
  }
  const engine = values.engine ?? env[JOB_ENV.engine];
  if (engine && !isEngineName(engine)) {
    throw new DeploymentError(`engine "${engine}" (from ${values.engine ? "--engine" : JOB_ENV.engine}) is not available in this build`);
  }
  let config: SolverConfig | null = null;
  if (input && typeof input === "object" && !Array.isArray(input)) {
    try {
      config = resolveConfig(engine ? { ...(input as Record<string, unknown>), engine } : input);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems.map((p) => `config: ${p}`));
    }
  } else {
    problems.push("--config must be a JSON object");
  }
  // the correlation mask of a cloud run is a key beside the scan, never a path on the worker (correlationMask.ts)
  const maskProblem = config?.correlation.mask ? maskKeyProblem(config.correlation.mask) : null;
  if (maskProblem) problems.push(`config: ${maskProblem}`);
  if (problems.length) throw new JobInputError(problems);

  const attempt = Number(env.AWS_BATCH_JOB_ATTEMPT ?? "1");
  return {
    scan: scan!, scanUri: scanUri!, scanVersion: scanVersion!, out: out!, outUri: outUri!, config: config!, user,
    truth, jobId: env.AWS_BATCH_JOB_ID ?? `adhoc-${process.pid}`, attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
  };
}
