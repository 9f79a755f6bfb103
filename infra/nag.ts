/**
 * cdk-nag (AwsSolutionsChecks) acknowledgements, each on the one construct it concerns, with the reason
 * it is acceptable. Everything else in the stack passes the checks as built.
 */
import { Validations } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { IConstruct } from "constructs";

export interface NagTargets {
  instanceRole: iam.Role;
  executionRole: iam.Role;
  ingestRole: iam.Role;
  jobRole: iam.Role;
  notifyRole: iam.Role;
  uploader: iam.ManagedPolicy;
  ingestFn: lambda.Function;
  notifyFn: lambda.Function;
}

export interface Acknowledgement {
  /** The construct path below the stack. */
  on: string;
  id: string;
  reason: string;
}

/** Every acknowledgement made, for docs/cloud.md and the tests. */
export const ACKNOWLEDGED: Acknowledgement[] = [];

const OBJECT_PREFIX = "Access to objects is granted by key prefix (the narrowest scope S3 object ARNs have): ";

function ack(construct: IConstruct, id: string, reason: string): void {
  Validations.of(construct).acknowledge({ id, reason });
  ACKNOWLEDGED.push({ on: construct.node.path.split("/").slice(1).join("/"), id, reason });
}

export function addSuppressions(t: NagTargets): void {
  ACKNOWLEDGED.length = 0;
  const scansIncoming = "AwsSolutions-IAM5[Resource::<Scans941C181C.Arn>/incoming/*]";
  const resultsAll = "AwsSolutions-IAM5[Resource::<Results25575328.Arn>/results/*]";

  ack(t.instanceRole, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]",
    "The ECS container agent on Batch instances needs AWS's documented instance-role policy (register the instance, poll for tasks, pull images, send logs); its actions take no resource scoping. The job's own permissions are in the separate, scoped job role.");
  ack(t.executionRole, "AwsSolutions-IAM5[Resource::*]",
    "ecr:GetAuthorizationToken has no resource-level permissions (it returns a registry token); pulling is limited to the worker repository by ARN in the same policy.");
  ack(t.ingestRole, "AwsSolutions-IAM5[Resource::*]",
    "batch:ListJobs has no resource-level permissions; it is read-only and used only to find a job by its deterministic name after an interrupted submission. batch:SubmitJob is limited to this job queue and job definition by ARN.");
  ack(t.ingestRole, scansIncoming, `${OBJECT_PREFIX}the ingest Lambda reads uploads and their config sidecars under incoming/ (read-only).`);
  ack(t.ingestRole, "AwsSolutions-IAM5[Resource::<Results25575328.Arn>/results/*/rejection.json]",
    `${OBJECT_PREFIX}the ingest Lambda writes rejection reports, and signs the presigned links to them in its messages (s3:PutObject and s3:GetObject on results/*/rejection.json only: no other result can be written or read).`);
  ack(t.notifyRole, "AwsSolutions-IAM5[Resource::<Results25575328.Arn>/results/*/error.json]",
    `${OBJECT_PREFIX}the notifier Lambda signs the presigned links to a failed run's error report in its messages (s3:GetObject on results/*/error.json only).`);
  ack(t.jobRole, scansIncoming, `${OBJECT_PREFIX}the worker reads the scans under incoming/ (read-only).`);
  ack(t.jobRole, resultsAll, `${OBJECT_PREFIX}the worker writes its outputs and checkpoints under results/.`);
  ack(t.jobRole, "AwsSolutions-IAM5[Resource::<Results25575328.Arn>/results/*/_checkpoint/*]",
    `${OBJECT_PREFIX}the worker deletes only its run's checkpoint (results/<run>/_checkpoint/) once the run is complete, and tags only checkpoints (s3:PutObjectTagging, for the lifecycle rule that expires those of failed runs).`);
  ack(t.uploader, "AwsSolutions-IAM5[Resource::<Scans941C181C.Arn>/incoming/<aws:username>/*]",
    `${OBJECT_PREFIX}each collaborator may write only under incoming/<their own IAM user name>/ (policy variable aws:username).`);
  ack(t.uploader, "AwsSolutions-IAM5[Resource::<Results25575328.Arn>/results/<aws:username>/*]",
    `${OBJECT_PREFIX}each collaborator may read only results/<their own IAM user name>/ (policy variable aws:username).`);
  for (const fn of [t.ingestFn, t.notifyFn]) {
    ack(fn, "AwsSolutions-L1",
      "Node.js 22 on purpose: the handlers use middy 6, whose supported Node versions are 20 and 22 (middy 7 needs Node 22+, and development and CI run Node 20). Moving to a newer runtime is a middy major upgrade.");
  }
}
