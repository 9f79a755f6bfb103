/**
 * The AWS side of `ptyxrf sweep` / `ptyxrf reprocess --profile aws`: the job queue and job definition the
 * stack deployed (its JobQueueArn and JobDefinitionArn outputs), from options or the environment.
 */
import { BatchClient } from "@aws-sdk/client-batch";
import { BatchSubmitter } from "../submit/submitter.js";
import { ProfileError } from "../local/profile.js";

export const JOB_QUEUE_ENV = "PTYXRF_JOB_QUEUE";
export const JOB_DEFINITION_ENV = "PTYXRF_JOB_DEFINITION";

export function batchSubmitterFor(o: { jobQueue?: string | undefined; jobDefinition?: string | undefined }, env: NodeJS.ProcessEnv = process.env, client?: BatchClient): BatchSubmitter {
  const queue = o.jobQueue ?? env[JOB_QUEUE_ENV];
  const definition = o.jobDefinition ?? env[JOB_DEFINITION_ENV];
  const missing = [!queue && `the job queue (--job-queue or ${JOB_QUEUE_ENV}: the stack's JobQueueArn output)`, !definition && `the job definition (--job-definition or ${JOB_DEFINITION_ENV}: the stack's JobDefinitionArn output)`].filter(Boolean);
  if (missing.length) throw new ProfileError(`the aws profile needs ${missing.join(" and ")}`);
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  return new BatchSubmitter(client ?? new BatchClient({ ...(region ? { region } : {}) }), queue!, definition!);
}
