/**
 * CDK assertions on the synthesised template (bundling skipped: test/functions/bundle.test.ts runs the
 * bundle), with cdk-nag's AWS Solutions checks on: the synth itself fails on any unacknowledged finding.
 * The worker image must be pinned: every synth here passes a digest placeholder (DIGEST) unless it tests that.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../infra/app.js";
import { ROOT } from "../../infra/bundle.js";
import { ACKNOWLEDGED } from "../../infra/nag.js";
import { readSettings, SettingsError } from "../../infra/settings.js";
import type { PtyxrfStack } from "../../infra/stack.js";
import { CHECKPOINT_TAG, S3CheckpointStore } from "../../src/pipeline/checkpoint/store.js";
import { REJECTION_REPORT, resultPrefix } from "../../src/pipeline/ingest/keys.js";
import type { S3Transfer } from "../../src/pipeline/worker/transfer.js";

type Json = Record<string, any>;

/** A digest placeholder: synth needs a pinned worker image, and never looks it up. */
const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
const BASE_CONTEXT = { "aws:cdk:bundling-stacks": [], workerImageTag: DIGEST };

function synth(context: Record<string, unknown> = {}): { template: Template; json: Json; stack: PtyxrfStack; outdir: string } {
  const { app, stack } = buildApp(new App({ context: { ...BASE_CONTEXT, ...context } }));
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
    expect(ACKNOWLEDGED.length).toBe(13);
    for (const a of ACKNOWLEDGED) expect(a.reason.length, a.id).toBeGreaterThan(60);
  });

  it("fails the synth on a new finding", () => {
    const { app, stack: s } = buildApp(new App({ context: BASE_CONTEXT }));
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

  /** The job definition's image (a Fn::Join for the stack's repository, a string otherwise). */
  const imageOf = (j: Json) => (Object.values(j.Resources as Json).find((r: Json) => r.Type === "AWS::Batch::JobDefinition") as Json).Properties.ContainerProperties.Image;

  it("the image is pinned: the stack's ECR repository (immutable tags) by digest or tag from context, or any URI by digest", () => {
    const repo = resources("AWS::ECR::Repository");
    expect(repo).toHaveLength(1);
    expect(repo[0][1].Properties.ImageTagMutability).toBe("IMMUTABLE");
    const parts = imageOf(json)["Fn::Join"][1] as unknown[];
    expect(parts.at(-2)).toEqual(ref(repo[0][0]));
    expect(parts.at(-1)).toBe(`@${DIGEST}`);
    expect(JSON.stringify(json.Resources)).not.toContain(":latest");

    const tagged = synth({ workerImageTag: "v0.1.0" });
    expect((imageOf(tagged.json)["Fn::Join"][1] as unknown[]).at(-1)).toBe(":v0.1.0");

    const uri = `public.ecr.aws/lab/ptyxrf-worker@${DIGEST}`;
    const other = synth({ workerImageTag: undefined, workerImage: uri, spot: "false", maxVcpus: "32" });
    expect(other.json.Resources).not.toHaveProperty(repo[0][0]);
    other.template.resourceCountIs("AWS::ECR::Repository", 0);
    expect(imageOf(other.json)).toBe(uri);
    other.template.resourceCountIs("AWS::Batch::ComputeEnvironment", 1);
    other.template.hasResourceProperties("AWS::Batch::ComputeEnvironment", { ComputeResources: Match.objectLike({ Type: "EC2", MaxvCpus: 32 }) });
  });

  it("synth refuses a moving image reference (:latest, a tag in another registry) or none, naming the fix", () => {
    const refuses = (context: Record<string, unknown>, message: RegExp) => {
      let err: unknown;
      try {
        synth(context);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(context)).toBeInstanceOf(SettingsError);
      expect((err as SettingsError).problems).toHaveLength(1);
      expect((err as SettingsError).problems[0]).toMatch(message);
    };
    refuses({ workerImageTag: "latest" }, /^workerImageTag "latest" names no fixed image: push the worker under a version or commit tag .* or give its digest \(-c workerImageTag=sha256:<64 hex digits>\)$/);
    refuses({ workerImageTag: "LATEST" }, /^workerImageTag "LATEST" names no fixed image/);
    refuses({ workerImageTag: "sha256:abc" }, /^workerImageTag is neither an image tag nor a digest sha256:<64 hex digits>: "sha256:abc"$/);
    refuses({ workerImageTag: undefined, workerImage: "public.ecr.aws/lab/ptyxrf-worker:latest" }, /^workerImage must be pinned by digest, <registry>\/<repository>@sha256:<64 hex digits> .*got "public.ecr.aws\/lab\/ptyxrf-worker:latest"/);
    refuses({ workerImageTag: undefined, workerImage: "public.ecr.aws/lab/ptyxrf-worker:1.2.0" }, /^workerImage must be pinned by digest/);
    refuses({ workerImageTag: undefined, workerImage: `public.ecr.aws/lab/ptyxrf-worker@sha256:${"0".repeat(63)}` }, /^workerImage must be pinned by digest/);
    refuses({ workerImage: `public.ecr.aws/lab/ptyxrf-worker@${DIGEST}` }, /^give workerImage .* or workerImageTag .*, not both$/);
    refuses({ workerImageTag: undefined }, /^the worker image must be pinned: -c workerImageTag=<tag or sha256:digest> .* or -c workerImage=<registry>\/<repository>@sha256:<64 hex digits>/);
  });

  it("the CDK app (what `npx cdk synth` runs) exits 1 with the problem, no stack trace, when the image is :latest", async () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-synth-"));
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, ["--import", "tsx", "infra/app.ts"], {
          cwd: ROOT, timeout: 60_000,
          env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ workerImageTag: "latest" }) },
        }, (_err, _stdout, stderr) => resolve({ code: child.exitCode, stderr }));
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('ptyxrf: invalid context (-c name=value; docs/cloud.md lists them):\n  - workerImageTag "latest" names no fixed image');
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(fs.readdirSync(outdir).filter((f) => f.endsWith(".template.json"))).toEqual([]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);
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

  it("results: versioned; replaced versions expire after 30 days; checkpoints (by their tag) 14 days after their last save", () => {
    const results = json.Resources[id(stack.results)].Properties;
    expect(results.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(results.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: "results-to-ia", Prefix: "results/", Status: "Enabled",
          Transitions: [{ StorageClass: "STANDARD_IA", TransitionInDays: 90 }],
          NoncurrentVersionExpiration: { NoncurrentDays: 30 },
          ExpiredObjectDeleteMarker: true,
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
        },
        {
          Id: "expire-checkpoints", Prefix: "results/", Status: "Enabled",
          TagFilters: [{ Key: "ptyxrf-lifecycle", Value: "checkpoint" }],
          ExpirationInDays: 14,
          // every save replaces the previous checkpoint; a successful run's delete leaves one version too
          NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        },
      ],
    });
    // the rule selects the tag the worker writes on every checkpoint (test/pipeline/worker/checkpointStore.test.ts)
    expect(results.LifecycleConfiguration.Rules[1].TagFilters).toEqual([{ Key: CHECKPOINT_TAG.key, Value: CHECKPOINT_TAG.value }]);

    const other = synth({ noncurrentResultsDays: "7", checkpointExpiryDays: "3" }).json.Resources[id(stack.results)].Properties.LifecycleConfiguration.Rules;
    expect(other[0].NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 7 });
    expect(other[1].ExpirationInDays).toBe(3);
    const keepAll = synth({ noncurrentResultsDays: "0" }).json.Resources[id(stack.results)].Properties;
    expect(keepAll.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(keepAll.LifecycleConfiguration.Rules[0].NoncurrentVersionExpiration).toBeUndefined();
    expect(keepAll.LifecycleConfiguration.Rules[1].NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 1 });
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

  const only = (type: string) => {
    const r = resources(type);
    expect(r, type).toHaveLength(1);
    return r[0][0];
  };
  const logGroup = (prefix: string) => resources("AWS::Logs::LogGroup").find(([lid]) => lid.startsWith(prefix))![0];
  const allow = (Sid: string, Action: string | string[], Resource: unknown, Condition?: Json) => ({ Sid, Effect: "Allow", Action, Resource, ...(Condition ? { Condition } : {}) });

  it("the ingest Lambda: exactly these statements; of the results bucket it may write and read results/*/rejection.json only", () => {
    const st = statements(stack.getLogicalId(stack.ingestFn.role!.node.defaultChild as never));
    const rejection = objects(id(stack.results), "results/*/rejection.json");
    expect(st).toEqual([
      allow("OwnLogGroup", ["logs:CreateLogStream", "logs:PutLogEvents"], arn(logGroup("IngestLogs"))),
      allow("ReadUploads", ["s3:GetObject", "s3:GetObjectVersion"], objects(id(stack.scans), "incoming/*")),
      allow("ListUploads", "s3:ListBucket", arn(id(stack.scans)), { StringLike: { "s3:prefix": ["incoming/*"] } }),
      allow("WriteRejectionReports", "s3:PutObject", rejection),
      // presigned links to rejection reports are signed with this role: it may read those reports, nothing else
      allow("LinkRejectionReports", "s3:GetObject", rejection),
      allow("SubmitToThisQueueWithThisDefinition", "batch:SubmitJob", [{ "Fn::GetAtt": [id(stack.jobQueue), "JobQueueArn"] }, ref(stack.getLogicalId(stack.jobDefinition.node.defaultChild as never))]),
      // the only unscoped resource: the read-only ListJobs (no resource-level permissions exist for it)
      allow("FindJobByName", "batch:ListJobs", "*"),
      allow("IdempotencyRecords", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], arn(id(stack.uploads))),
      allow("PublishNotifications", "sns:Publish", ref(id(stack.topic))),
      allow("EncryptNotifications", ["kms:GenerateDataKey", "kms:Decrypt"], arn(only("AWS::KMS::Key"))),
      { Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource: arn(id(stack.ingestQueue)) },
    ]);
  });

  it("the worker: exactly these statements; it reads incoming/, writes results/, and deletes and tags checkpoints only", () => {
    const roleId = resources("AWS::IAM::Role").find(([rid]) => rid.startsWith("WorkerJobRole"))![0];
    const checkpoints = objects(id(stack.results), "results/*/_checkpoint/*");
    expect(statements(roleId)).toEqual([
      allow("ReadScans", ["s3:GetObject", "s3:GetObjectVersion"], objects(id(stack.scans), "incoming/*")),
      allow("WriteResults", ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"], objects(id(stack.results), "results/*")),
      allow("DeleteOwnCheckpoints", "s3:DeleteObject", checkpoints),
      // a PUT with x-amz-tagging (the checkpoint's lifecycle tag) needs s3:PutObjectTagging as well
      allow("TagOwnCheckpoints", "s3:PutObjectTagging", checkpoints),
      allow("PublishNotifications", "sns:Publish", ref(id(stack.topic))), // the worker's completion notification
      allow("EncryptNotifications", ["kms:GenerateDataKey", "kms:Decrypt"], arn(only("AWS::KMS::Key"))),
      allow("ListOwnResults", "s3:ListBucket", arn(id(stack.results)), { StringLike: { "s3:prefix": ["results/*"] } }),
    ]);
  });

  it("the key patterns admit exactly the objects meant: rejection reports for the ingest Lambda, checkpoints for tagging and deletion", () => {
    // S3 ARN wildcards: * matches any characters, / included
    const admits = (pattern: string, key: string) => new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(key);
    const prefix = resultPrefix({ user: "alice", relPath: "2026/run-17.h5", stem: "2026/run-17" }, "0123456789abcdef");
    const checkpoint = new S3CheckpointStore(null as unknown as S3Transfer, { bucket: "r", key: prefix }, os.tmpdir()).loc.key;
    expect(checkpoint).toBe("results/alice/2026/run-17/0123456789abcdef/_checkpoint/solver.ckpt");
    const outputs = ["result.h5", "metrics.json", "manifest.json", "progress.json", "error.json", "report.html"].map((f) => `${prefix}${f}`);
    expect(admits("results/*/rejection.json", `${prefix}${REJECTION_REPORT}`)).toBe(true);
    for (const k of [...outputs, checkpoint]) expect(admits("results/*/rejection.json", k), k).toBe(false);
    expect(admits("results/*/_checkpoint/*", checkpoint)).toBe(true);
    for (const k of [...outputs, `${prefix}${REJECTION_REPORT}`]) expect(admits("results/*/_checkpoint/*", k), k).toBe(false);
  });

  it("of all principals, only the worker may write any object of the results bucket; nobody may delete or tag outside checkpoints", () => {
    const results = id(stack.results);
    const grants = [...resources("AWS::IAM::Policy"), ...resources("AWS::IAM::ManagedPolicy")].flatMap(([pid, p]) =>
      (p.Properties.PolicyDocument.Statement as Json[])
        .filter((s) => JSON.stringify(s.Resource).includes(`"${results}"`))
        .flatMap((s) => [s.Action].flat().filter((a: string) => /^s3:(Put|Delete)/.test(a)).map((a: string) => `${pid.replace(/[0-9A-F]{8}$/, "")} ${a} ${JSON.stringify(s.Resource["Fn::Join"]?.[1]?.[1])}`)));
    expect(grants.sort()).toEqual([
      'IngestRoleDefaultPolicy s3:PutObject "/results/*/rejection.json"',
      'WorkerJobRoleDefaultPolicy s3:DeleteObject "/results/*/_checkpoint/*"',
      'WorkerJobRoleDefaultPolicy s3:PutObject "/results/*"',
      'WorkerJobRoleDefaultPolicy s3:PutObjectTagging "/results/*/_checkpoint/*"',
    ]);
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
      for (const s of ["maxVcpus", "logRetentionDays", '"p5"', "userEmails", "scanIaDays", "notifyEmail", "the worker image must be pinned"]) expect(p).toContain(s);
    }
  });

  it("a checkpoint may not expire while its job can still resume from it", () => {
    const problems = (ctx: Record<string, unknown>) => {
      try {
        readSettings(node({ workerImageTag: "v1", ...ctx }));
        return [];
      } catch (e) {
        return (e as SettingsError).problems;
      }
    };
    expect(problems({ checkpointExpiryDays: "1" })).toEqual([]); // 24 h > 6 h waiting + 12 h running
    expect(problems({ checkpointExpiryDays: "1", jobTimeoutHours: "24" })).toEqual([
      "checkpointExpiryDays (1) must exceed runnableTimeoutHours + jobTimeoutHours (30 h): a running job's checkpoint would expire",
    ]);
    expect(problems({ checkpointExpiryDays: "0" })).toEqual(['checkpointExpiryDays must be an integer in [1, 3650], got "0"']);
    expect(problems({ noncurrentResultsDays: "-1" })).toEqual(['noncurrentResultsDays must be an integer in [0, 36500], got "-1"']);
  });

  it("defaults without context; user emails from a list", () => {
    const s = readSettings(node({ userEmails: "alice=a@x.org, bob=b@y.org", workerImageTag: "v0.1.0" }));
    expect(s.userEmails).toEqual({ alice: "a@x.org", bob: "b@y.org" });
    expect(s).toMatchObject({
      spot: true, maxVcpus: 64, onDemandMaxVcpus: 16, workerGpus: 1, jobAttempts: 3, logRetentionDays: 90,
      workerImage: null, workerImageTag: "v0.1.0", noncurrentResultsDays: 30, checkpointExpiryDays: 14,
    });
  });
});
