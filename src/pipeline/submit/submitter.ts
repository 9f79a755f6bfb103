/**
 * Job submission behind an interface: AWS Batch in the cloud, a recording stand-in for tests and local runs.
 *
 * Batch does not deduplicate by job name, so exactly-once submission comes from the idempotency record;
 * `findJob` covers the one gap it leaves (an invocation that died between SubmitJob and recording the job
 * id): the recovering invocation looks the deterministic name up on the queue before submitting again.
 */
import { ListJobsCommand, SubmitJobCommand, type BatchClient } from "@aws-sdk/client-batch";
import type { JobSpec } from "./jobSpec.js";

export interface SubmittedJob {
  jobId: string;
  jobName: string;
}

export interface JobSubmitter {
  /** A job with this name already on the queue (any state, as far back as Batch keeps jobs), or null. */
  findJob(jobName: string): Promise<SubmittedJob | null>;
  submit(spec: JobSpec): Promise<SubmittedJob>;
}

export class BatchSubmitter implements JobSubmitter {
  constructor(
    readonly client: BatchClient,
    /** Job queue name or ARN. */
    readonly jobQueue: string,
    /** Job definition ARN (with revision) or name:revision. */
    readonly jobDefinition: string,
  ) {}

  async findJob(jobName: string): Promise<SubmittedJob | null> {
    let nextToken: string | undefined;
    // With a filter, ListJobs returns jobs in every status. Bounded: a name is unique to one upload.
    for (let page = 0; page < 10; page++) {
      const r = await this.client.send(new ListJobsCommand({
        jobQueue: this.jobQueue,
        filters: [{ name: "JOB_NAME", values: [jobName] }],
        ...(nextToken ? { nextToken } : {}),
      }));
      const hit = r.jobSummaryList?.find((j) => j.jobName === jobName && j.jobId);
      if (hit) return { jobId: hit.jobId!, jobName };
      nextToken = r.nextToken;
      if (!nextToken) break;
    }
    return null;
  }

  async submit(spec: JobSpec): Promise<SubmittedJob> {
    const r = await this.client.send(new SubmitJobCommand({
      jobName: spec.jobName,
      jobQueue: this.jobQueue,
      jobDefinition: this.jobDefinition,
      parameters: spec.parameters,
      ...(spec.command ? { containerOverrides: { command: spec.command } } : {}),
      ...(spec.arraySize ? { arrayProperties: { size: spec.arraySize } } : {}),
      ...(spec.dependsOn?.length ? { dependsOn: spec.dependsOn.map((jobId) => ({ jobId })) } : {}),
    }));
    if (!r.jobId) throw new Error(`Batch accepted job ${spec.jobName} without a job id`);
    return { jobId: r.jobId, jobName: r.jobName ?? spec.jobName };
  }
}

/** Records submissions (tests; the local profile's runner can pick them up). */
export class MemorySubmitter implements JobSubmitter {
  readonly submitted: (JobSpec & { jobId: string })[] = [];

  async findJob(jobName: string): Promise<SubmittedJob | null> {
    const hit = this.submitted.find((j) => j.jobName === jobName);
    return hit ? { jobId: hit.jobId, jobName } : null;
  }

  async submit(spec: JobSpec): Promise<SubmittedJob> {
    const jobId = `local-job-${this.submitted.length + 1}`;
    this.submitted.push({ ...spec, jobId });
    return { jobId, jobName: spec.jobName };
  }
}
