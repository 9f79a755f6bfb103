/**
 * The task list of a sweep (or of a reprocessing batch): one JSON object in S3 that the array job's children
 * read, each picking its task by AWS_BATCH_JOB_ARRAY_INDEX, and that the aggregation reads to find every
 * task's outputs. Layout in the results bucket (docs/sweeps.md):
 *
 *   results/<user>/sweeps/<name>-<id>/            (reprocessing: results/<user>/reprocess/<name>-<id>/)
 *     tasks.json                                   this list: the spec, every task's scan (pinned), config, folder
 *     inputs/                                      local scans and truths of the spec, uploaded
 *     tasks/<task id>/                             a sweep task's run folder (the worker's outputs, manifest
 *                                                  last), or failure.json when the task failed for good
 *     sweep.json, sweep.csv, report.html           the aggregation's summary
 *
 * Under results/<user>/ so that the worker's role (read and write results/*) and a collaborator's uploader
 * policy (read results/<own user>/*) need nothing new. Reprocessing tasks write into each scan's own results
 * folder instead (results/<user>/<scan path>/<tag>/), where the next reprocessing finds them.
 */
import crypto from "node:crypto";
import type { SolverConfig } from "../../solver/config.js";
import { parseS3Uri, s3UriOf, type S3Location, type S3Transfer } from "../worker/transfer.js";
import type { RankBy, Scalar } from "./spec.js";

export const TASKS_FILE = "tasks.json";
export const SWEEP_JSON = "sweep.json";
export const SWEEP_CSV = "sweep.csv";
export const SWEEP_REPORT = "report.html";
/** Written into a task's folder when it failed for good (the worker exited 0 so the sweep goes on). */
export const TASK_FAILURE = "failure.json";
/** The environment variable naming the task list (instead of --task-list). */
export { TASK_LIST_ENV } from "../worker/job.js";
/** Set by Batch in each child of an array job. */
export const ARRAY_INDEX_ENV = "AWS_BATCH_JOB_ARRAY_INDEX";
export { DEFAULT_JOB_ATTEMPTS, JOB_ATTEMPTS_ENV } from "../worker/exitCodes.js";

export interface SweepTask {
  index: number;
  id: string;
  /** The scan as the spec gave it. */
  scan: string;
  scanLabel: string;
  /** Where the worker reads it, pinned to a version (or etag:<etag>). */
  scanUri: string;
  scanVersion: string;
  truthUri: string | null;
  params: Record<string, Scalar>;
  /** Resolved (every field filled in), as the ingest path gives a job. */
  config: SolverConfig;
  /** The task's run folder, s3://bucket/prefix/ */
  out: string;
  user: string;
  /** Bytes of the scan (estimates). */
  bytes?: number;
}

export interface TaskList {
  kind: "ptyxrf-task-list";
  version: 1;
  purpose: "sweep" | "reprocess";
  name: string;
  sweepId: string;
  createdAt: string;
  user: string;
  profile: string;
  /** The sweep's folder, s3://bucket/prefix/ (tasks.json and the summary live here). */
  prefix: string;
  rankBy: RankBy | null;
  spec: unknown;
  tasks: SweepTask[];
}

export class TaskListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskListError";
  }
}

/** A sweep's id: UTC time and 4 random hex digits (sorts by time; two sweeps in one second differ). */
export function newSweepId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "").replace("T", "-");
  return `${t}-${crypto.randomBytes(2).toString("hex")}`;
}

/** The folder of a sweep (key prefix in the results bucket, ending in "/"). */
export function sweepFolder(user: string, name: string, sweepId: string, purpose: TaskList["purpose"] = "sweep"): string {
  return `results/${user}/${purpose === "sweep" ? "sweeps" : "reprocess"}/${name}-${sweepId}/`;
}

export function tasksUri(prefix: string): string {
  return `${prefix}${TASKS_FILE}`;
}

/** The worker's arguments for one task (parsed by parseWorkerJob like a job definition's). */
export function taskArgv(task: SweepTask): string[] {
  return [
    "--scan", task.scanUri, "--scan-version", task.scanVersion, "--out", task.out,
    "--config", JSON.stringify(task.config), "--user", task.user,
    ...(task.truthUri ? ["--truth", task.truthUri] : []),
  ];
}

function at(prefix: string, name: string): S3Location {
  const loc = parseS3Uri(prefix);
  if (!loc) throw new TaskListError(`not an s3:// folder: ${prefix}`);
  return { bucket: loc.bucket, key: `${loc.key}${name}` };
}

export function locationIn(prefix: string, name: string): S3Location {
  return at(prefix, name);
}

export async function writeTaskList(transfer: S3Transfer, list: TaskList): Promise<string> {
  const loc = at(list.prefix, TASKS_FILE);
  await transfer.putJson(loc, list);
  return s3UriOf(loc);
}

/** Reads and checks a task list; TaskListError when it is missing or not one. */
export async function readTaskList(transfer: S3Transfer, uri: string): Promise<TaskList> {
  const loc = parseS3Uri(uri);
  if (!loc || !loc.key || loc.key.endsWith("/")) throw new TaskListError(`the task list must be s3://bucket/key, got "${uri}"`);
  let list: TaskList | null;
  try {
    list = await transfer.getJson<TaskList>(loc);
  } catch (err) {
    if (err instanceof SyntaxError) throw new TaskListError(`${uri} is not JSON: ${err.message}`);
    throw err;
  }
  if (!list) throw new TaskListError(`no task list at ${uri}`);
  if (list.kind !== "ptyxrf-task-list" || !Array.isArray(list.tasks) || typeof list.prefix !== "string") {
    throw new TaskListError(`${uri} is not a ptyxrf task list (kind "${String((list as { kind?: unknown }).kind)}")`);
  }
  return list;
}
