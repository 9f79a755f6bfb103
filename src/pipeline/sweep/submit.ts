/**
 * A staged task list becomes two jobs on any JobSubmitter (AWS Batch, the local job runner):
 *
 *   1. one array job of `tasks` children (a single task: a plain job with --task-index 0, since Batch
 *      arrays have 2..10,000 children), command `node dist/container/worker.js --task-list s3://.../tasks.json`;
 *      each child picks its task by AWS_BATCH_JOB_ARRAY_INDEX
 *   2. the aggregation, `node dist/container/worker.js --aggregate s3://.../`, depending on job 1: it runs
 *      once every child has ended (children record their failures and exit 0, sweep/child.ts)
 *
 * Both carry the usual parameters (user, the task list as scanUri, the sweep folder as resultPrefix) so that
 * Batch's job state change notifications name the sweep.
 */
import { jobName, MIN_ARRAY_SIZE, WORKER_COMMAND, type JobSpec } from "../submit/jobSpec.js";
import type { JobSubmitter, SubmittedJob } from "../submit/submitter.js";
import type { TaskList } from "./tasks.js";

export interface SweepSubmission {
  tasksUri: string;
  arrayJob: SubmittedJob;
  aggregateJob: SubmittedJob;
  size: number;
}

const WORKER = WORKER_COMMAND.slice(0, 2);

export function sweepJobSpecs(list: TaskList, tasksUri: string): { tasks: JobSpec; aggregate: (dependsOn: string) => JobSpec } {
  const parameters = { scanUri: tasksUri, scanVersion: "none", resultPrefix: list.prefix, config: "{}", user: list.user };
  const size = list.tasks.length;
  return {
    tasks: {
      jobName: jobName(list.user, `${list.purpose}-${list.name}`, list.sweepId),
      parameters,
      command: [...WORKER, "--task-list", tasksUri, ...(size < MIN_ARRAY_SIZE ? ["--task-index", "0"] : [])],
      ...(size >= MIN_ARRAY_SIZE ? { arraySize: size } : {}),
    },
    aggregate: (dependsOn) => ({
      jobName: jobName(list.user, `${list.purpose}-${list.name}-aggregate`, list.sweepId),
      parameters,
      command: [...WORKER, "--aggregate", list.prefix],
      dependsOn: [dependsOn],
    }),
  };
}

export async function submitSweepJobs(submitter: JobSubmitter, list: TaskList, tasksUri: string): Promise<SweepSubmission> {
  if (!list.tasks.length) throw new Error("a sweep without tasks cannot be submitted");
  const specs = sweepJobSpecs(list, tasksUri);
  const arrayJob = await submitter.submit(specs.tasks);
  const aggregateJob = await submitter.submit(specs.aggregate(arrayJob.jobId));
  return { tasksUri, arrayJob, aggregateJob, size: list.tasks.length };
}
