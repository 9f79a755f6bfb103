/**
 * CDK assertions on the synthesised template (bundling skipped: test/functions/bundle.test.ts runs the
 * bundle), with cdk-nag's AWS Solutions checks on: the synth itself fails on any unacknowledged finding.
 */
import fs from "node:fs";
import path from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../infra/app.js";
import { ACKNOWLEDGED } from "../../infra/nag.js";
import { readSettings, SettingsError } from "../../infra/settings.js";
import type { PtyxrfStack } from "../../infra/stack.js";

type Json = Record<string, any>;

function synth(context: Record<string, unknown> = {}): { template: Template; json: Json; stack: PtyxrfStack; outdir: string } {
  const { app, stack } = buildApp(new App({ context: { "aws:cdk:bundling-stacks": [], ...context } }));
  const assembly = app.synth();
  const json = assembly.getStackByName(stack.stackName).template as Json;
  return { template: Template.fromJSON(json), json, stack, outdir: assembly.directory };
}

const ref = (logicalId: string) => ({ Ref: logicalId });
const arn = (logicalId: string) => ({ "Fn::GetAtt": [logicalId, "Arn"] });

let t: Template;
let json: Json;
let stack: PtyxrfStack;
let outdir: string;
let id: (construct: { node: { defaultChild?: unknown } }) => string;

beforeAll(() => {
  ({ template: t, json, stack, outdir } = synth({ notifyEmail: "ops@lab.org", userEmails: "alice=alice@lab.org" }));
  id = (c) => stack.getLogicalId(c.node.defaultChild as never);
});

const resources = (type: string): [string, Json][] => Object.entries(json.Resources as Json).filter(([, r]) => r.Type === type) as [string, Json][];

describe("cdk-nag AwsSolutionsChecks", () => {
  it("passes with every acknowledgement explained", () => {
    const report = JSON.parse(fs.readFileSync(path.join(outdir, "validation-report.json"), "utf8"));
    expect(report.pluginReports).toEqual([]);
    expect(ACKNOWLEDGED.length).toBe(14);
    for (const a of ACKNOWLEDGED) expect(a.reason.length, a.id).toBeGreaterThan(60);
  });

  it("fails the synth on a new finding", () => {
    const { app, stack: s } = buildApp(new App({ context: { "aws:cdk:bundling-stacks": [] } }));
    new iam.Role(s, "TooMuch", { assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"), managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName("AdministratorAccess")] });
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM4\[Policy::arn:<AWS::Partition>:iam::aws:policy\/AdministratorAccess\]/);
  });
});

describe("AWS Batch", () => {
  it("a Spot GPU compute environment on the AL2023 NVIDIA image, with an on-demand fallback", () => {
    const ces = resources("AWS::Batch::ComputeEnvironment").map(([, r]) => r.Properties);
    expect(ces).toHaveLength(2);
    const base = {
      Type: "managed",
      ComputeResources: Match.objectLike({
        Ec2Configuration: [{ ImageType: "ECS_AL2023_NVIDIA" }],
        InstanceTypes: ["g6.xlarge", "g6.2xlarge", "g6.4xlarge", "g5.xlarge", "g5.2xlarge"],
        MinvCpus: 0,
      }),
    };
    t.hasResourceProperties("AWS::Batch::ComputeEnvironment", { ...base, ComputeResources: Match.objectLike({ Type: "SPOT", AllocationStrategy: "SPOT_PRICE_CAPACITY_OPTIMIZED", MaxvCpus: 64 }) });
    t.hasResourceProperties("AWS::Batch::ComputeEnvironment", { ...base, ComputeResources: Match.objectLike({ Type: "EC2", AllocationStrategy: "BEST_FIT_PROGRESSIVE", MaxvCpus: 16 }) });
    const [spotId] = resources("AWS::Batch::ComputeEnvironment").find(([, r]) => r.Properties.ComputeResources.Type === "SPOT")!;
    const [odId] = resources("AWS::Batch::ComputeEnvironment").find(([, r]) => r.Properties.ComputeResources.Type === "EC2")!;
    t.hasResourceProperties("AWS::Batch::JobQueue", {
      ComputeEnvironmentOrder: [
        { ComputeEnvironment: { "Fn::GetAtt": [spotId, "ComputeEnvironmentArn"] }, Order: 1 },
        { ComputeEnvironment: { "Fn::GetAtt": [odId, "ComputeEnvironmentArn"] }, Order: 2 },
      ],
    });
  });

  it("instances: IMDSv2 only, encrypted gp3 root volume, no inbound traffic", () => {
    t.hasResourceProperties("AWS::EC2::LaunchTemplate", {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: "required", HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: Match.objectLike({ Encrypted: true, VolumeType: "gp3", VolumeSize: 100 }) }],
      }),
    });
    for (const [, sg] of resources("AWS::EC2::SecurityGroup")) expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
  });

  it("the worker job: GPU, vCPU and memory, timeout, retries on Spot reclaim, host failure and the worker's transient exit code 75, never on exit code 2", () => {
    t.hasResourceProperties("AWS::Batch::JobDefinition", {
      Type: "container",
      PlatformCapabilities: ["EC2"],
      ContainerProperties: Match.objectLike({
        ResourceRequirements: [{ Type: "MEMORY", Value: "14336" }, { Type: "VCPU", Value: "4" }, { Type: "GPU", Value: "1" }],
        Command: ["node", "dist/container/worker.js", "--scan", "Ref::scanUri", "--scan-version", "Ref::scanVersion", "--out", "Ref::resultPrefix", "--config", "Ref::config", "--user", "Ref::user"],
        LogConfiguration: Match.objectLike({ LogDriver: "awslogs" }),
        // sweep children record a task's failure on their last attempt: they know how many there are
        Environment: Match.arrayWith([{ Name: "PTYXRF_JOB_ATTEMPTS", Value: "3" }]),
      }),
      Parameters: { scanUri: Match.anyValue(), scanVersion: Match.anyValue(), resultPrefix: Match.anyValue(), config: "{}", user: "_unknown" },
      Timeout: { AttemptDurationSeconds: 12 * 3600 },
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: "EXIT", OnExitCode: "2" },
          { Action: "RETRY", OnStatusReason: "Host EC2*" },
          { Action: "RETRY", OnReason: "CannotPullContainerError:*" },
          { Action: "RETRY", OnExitCode: "75" },
          { Action: "EXIT", OnExitCode: "*" },
        ],
      },
    });
  });

  it("outputs the job definition for sweeps and reprocessing (ptyxrf sweep --profile aws)", () => {
    t.hasOutput("JobDefinitionArn", { Value: { Ref: id(stack.jobDefinition) } });
  });

  it("the image is the stack's ECR repository at the tag from context, or any URI", () => {
    const repo = resources("AWS::ECR::Repository");
    expect(repo).toHaveLength(1);
    const image = JSON.stringify(resources("AWS::Batch::JobDefinition")[0][1].Properties.ContainerProperties.Image);
    expect(image).toContain(repo[0][0]);
    expect(image).toContain(":latest");
    const other = synth({ workerImage: "public.ecr.aws/lab/ptyxrf-worker:1.2.0", spot: "false", maxVcpus: "32" });
    expect(other.json.Resources).not.toHaveProperty(repo[0][0]);
    other.template.resourceCountIs("AWS::ECR::Repository", 0);
    other.template.hasResourceProperties("AWS::Batch::JobDefinition", { ContainerProperties: Match.objectLike({ Image: "public.ecr.aws/lab/ptyxrf-worker:1.2.0" }) });
    other.template.resourceCountIs("AWS::Batch::ComputeEnvironment", 1);
    other.template.hasResourceProperties("AWS::Batch::ComputeEnvironment", { ComputeResources: Match.objectLike({ Type: "EC2", MaxvCpus: 32 }) });
  });
});

describe("storage", () => {
  it("every bucket: public access blocked, SSE, TLS-only policy", () => {
    const buckets = resources("AWS::S3::Bucket");
    expect(buckets).toHaveLength(3);
    for (const [bid, b] of buckets) {
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe("AES256");
      expect(b.DeletionPolicy).toBe("Retain");
      const policy = resources("AWS::S3::BucketPolicy").find(([, p]) => JSON.stringify(p.Properties.Bucket) === JSON.stringify(ref(bid)));
      expect(policy, bid).toBeDefined();
      expect(policy![1].Properties.PolicyDocument.Statement).toContainEqual(expect.objectContaining({
        Effect: "Deny", Action: "s3:*", Principal: { AWS: "*" }, Condition: { Bool: { "aws:SecureTransport": "false" } },
      }));
    }
  });

  it("scans: versioned, access-logged, raw scans age into IA, Glacier IR, Deep Archive; upload events to the ingest queue", () => {
    const scans = id(stack.scans);
    t.hasResource("AWS::S3::Bucket", {
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: "Enabled" },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: "scans/" }),
        LifecycleConfiguration: {
          Rules: [Match.objectLike({
            Prefix: "incoming/",
            Status: "Enabled",
            Transitions: [
              { StorageClass: "STANDARD_IA", TransitionInDays: 30 },
              { StorageClass: "GLACIER_IR", TransitionInDays: 90 },
              { StorageClass: "DEEP_ARCHIVE", TransitionInDays: 365 },
            ],
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
          })],
        },
        NotificationConfiguration: {
          QueueConfigurations: [{
            Event: "s3:ObjectCreated:*",
            Queue: arn(id(stack.ingestQueue)),
            Filter: { S3Key: { Rules: [{ Name: "prefix", Value: "incoming/" }] } },
          }],
        },
      }),
      DependsOn: Match.arrayWith([Match.stringLikeRegexp("^IngestQueuePolicy")]),
    });
    expect(json.Resources[scans].Properties.NotificationConfiguration).toBeDefined();
    // No custom resource (and its unmanaged Lambda) anywhere: notifications are plain CloudFormation.
    expect(Object.values(json.Resources as Json).filter((r: Json) => String(r.Type).startsWith("Custom::"))).toEqual([]);
  });

  it("the idempotency table: on-demand, point-in-time recovery, TTL", () => {
    t.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
    });
  });
});

describe("event delivery and notifications", () => {
  it("S3 -> SQS (encrypted, TLS-only, dead-letter queue after 5 receives) -> Lambda reporting item failures", () => {
    const q = id(stack.ingestQueue);
    const dlq = id(stack.ingestDlq);
    t.hasResourceProperties("AWS::SQS::Queue", {
      VisibilityTimeout: 1800,
      MessageRetentionPeriod: 14 * 86400,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: arn(dlq), maxReceiveCount: 5 },
    });
    t.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arn(q),
      FunctionName: ref(id(stack.ingestFn)),
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    t.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [ref(q)],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: "S3SendsUploadEvents", Principal: { Service: "s3.amazonaws.com" }, Action: "sqs:SendMessage", Condition: Match.objectLike({ ArnEquals: Match.anyValue() }) })]) },
    });
    t.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "ApproximateNumberOfMessagesVisible", Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [dlq, "QueueName"] } }] });
  });

  it("EventBridge: Batch Job State Change, SUCCEEDED or FAILED, this queue only -> notifier Lambda (with a DLQ)", () => {
    t.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        detail: {
          jobQueue: [{ "Fn::GetAtt": [id(stack.jobQueue), "JobQueueArn"] }], status: ["SUCCEEDED", "FAILED"],
          // a sweep's array children do not notify one by one
          arrayProperties: { index: [{ exists: false }] },
        },
      },
      Targets: [Match.objectLike({ Arn: arn(id(stack.notifyFn)), DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
  });

  it("SNS: KMS-encrypted, TLS-only; the operator's email, and per-user emails filtered on the user attribute", () => {
    t.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
    t.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "ops@lab.org", FilterPolicy: Match.absent() });
    t.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "alice@lab.org", FilterPolicy: { user: ["alice"] } });
    t.hasResourceProperties("AWS::SNS::TopicPolicy", { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]) } });
  });

  it("log retention everywhere: every log group has one, every function logs to its own group", () => {
    const groups = resources("AWS::Logs::LogGroup");
    expect(groups.length).toBe(3);
    for (const [, g] of groups) expect(g.Properties.RetentionInDays).toBe(90);
    const fns = resources("AWS::Lambda::Function");
    expect(fns).toHaveLength(2);
    for (const [, f] of fns) {
      expect(f.Properties.LoggingConfig).toMatchObject({ LogFormat: "JSON", LogGroup: { Ref: expect.stringMatching(/Logs/) } });
      expect(f.Properties.Runtime).toBe("nodejs22.x");
    }
  });
});

describe("least-privilege IAM", () => {
  const statements = (roleId: string) => resources("AWS::IAM::Policy")
    .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
  const bySid = (st: Json[], sid: string) => st.find((s) => s.Sid === sid)!;
  const objects = (bucketId: string, prefix: string) => ({ "Fn::Join": ["", [arn(bucketId), `/${prefix}`]] });

  it("the ingest Lambda submits only to this queue with this job definition, reads incoming/, writes results/", () => {
    const st = statements(stack.getLogicalId(stack.ingestFn.role!.node.defaultChild as never));
    expect(bySid(st, "SubmitToThisQueueWithThisDefinition")).toMatchObject({
      Action: "batch:SubmitJob",
      Resource: [{ "Fn::GetAtt": [id(stack.jobQueue), "JobQueueArn"] }, ref(stack.getLogicalId(stack.jobDefinition.node.defaultChild as never))],
    });
    expect(bySid(st, "ReadUploads")).toMatchObject({ Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: objects(id(stack.scans), "incoming/*") });
    expect(bySid(st, "WriteRejectionReports")).toMatchObject({ Action: "s3:PutObject", Resource: objects(id(stack.results), "results/*") });
    // presigned links to rejection reports are signed with this role: it may read those reports, nothing else
    expect(bySid(st, "LinkRejectionReports")).toMatchObject({ Action: "s3:GetObject", Resource: objects(id(stack.results), "results/*/rejection.json") });
    expect(bySid(st, "IdempotencyRecords").Resource).toEqual(arn(id(stack.uploads)));
    expect(bySid(st, "PublishNotifications").Resource).toEqual(ref(id(stack.topic)));
    // The only unscoped resource is the read-only ListJobs (no resource-level permissions exist for it).
    expect(st.filter((s) => s.Resource === "*").map((s) => s.Action)).toEqual(["batch:ListJobs"]);
  });

  it("the worker reads scans and writes results under their prefixes only", () => {
    const roleId = resources("AWS::IAM::Role").find(([rid]) => rid.startsWith("WorkerJobRole"))![0];
    const st = statements(roleId);
    expect(st.map((s) => s.Sid).sort()).toEqual(["DeleteOwnCheckpoints", "EncryptNotifications", "ListOwnResults", "PublishNotifications", "ReadScans", "WriteResults"]);
    expect(bySid(st, "DeleteOwnCheckpoints")).toMatchObject({ Action: "s3:DeleteObject", Resource: objects(id(stack.results), "results/*/_checkpoint/*") });
    expect(bySid(st, "PublishNotifications")).toMatchObject({ Action: "sns:Publish" }); // the worker's completion notification
    expect(bySid(st, "ReadScans")).toMatchObject({ Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: objects(id(stack.scans), "incoming/*") });
    expect(bySid(st, "WriteResults")).toMatchObject({ Resource: objects(id(stack.results), "results/*") });
    expect(bySid(st, "ListOwnResults")).toMatchObject({ Resource: arn(id(stack.results)), Condition: { StringLike: { "s3:prefix": ["results/*"] } } });
  });

  it("the notifier Lambda publishes notifications and may read failed runs' error reports only (to link them)", () => {
    const st = statements(stack.getLogicalId(stack.notifyFn.role!.node.defaultChild as never));
    expect(bySid(st, "LinkWorkerErrorReports")).toMatchObject({ Action: "s3:GetObject", Resource: objects(id(stack.results), "results/*/error.json") });
    const s3 = st.filter((s) => [s.Action].flat().some((a: string) => a.startsWith("s3:")));
    expect(s3.map((s) => s.Sid)).toEqual(["LinkWorkerErrorReports"]);
  });

  it("no policy anywhere grants a wildcard action", () => {
    const all = [...resources("AWS::IAM::Policy"), ...resources("AWS::IAM::ManagedPolicy")].flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
    for (const s of all) for (const a of [s.Action].flat()) expect(a, JSON.stringify(s)).not.toMatch(/^\*$|:\*$/);
  });
});

describe("settings from context", () => {
  const node = (ctx: Record<string, unknown>) => ({ tryGetContext: (k: string) => ctx[k] }) as never;

  it("reports every invalid value at once", () => {
    try {
      readSettings(node({ maxVcpus: "lots", logRetentionDays: "10", instanceTypes: "g6.xlarge,,p5", userEmails: "alice", scanIaDays: "10", notifyEmail: "nope" }));
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(SettingsError);
      const p = (e as SettingsError).problems.join("\n");
      for (const s of ["maxVcpus", "logRetentionDays", '"p5"', "userEmails", "scanIaDays", "notifyEmail"]) expect(p).toContain(s);
    }
  });

  it("defaults without context; user emails from a list", () => {
    const s = readSettings(node({ userEmails: "alice=a@x.org, bob=b@y.org" }));
    expect(s.userEmails).toEqual({ alice: "a@x.org", bob: "b@y.org" });
    expect(s).toMatchObject({ spot: true, maxVcpus: 64, onDemandMaxVcpus: 16, workerGpus: 1, jobAttempts: 3, logRetentionDays: 90 });
  });
});
