/**
 * The ptyxrf cloud stack: upload -> validate -> GPU job -> notify (docs/cloud.md).
 *
 *   scans bucket (incoming/<user>/..., versioned)
 *     └─ s3:ObjectCreated:* ──> SQS ingest queue (DLQ after 5 receives, alarm) ──> ingest Lambda
 *                                   validates by ranged reads; rejects (report -> results bucket, SNS)
 *                                   or submits one Batch job (idempotency table) and notifies (SNS)
 *   AWS Batch: Spot GPU compute environment, on-demand fallback, job queue, worker job definition
 *     └─ EventBridge "Batch Job State Change" SUCCEEDED|FAILED on this queue ──> notifier Lambda ──> SNS
 *   SNS topic (KMS): email subscriptions; messages carry a `user` attribute for filtered subscriptions.
 *
 * Everything synthesises offline: no lookups, no Docker (Lambda code is bundled with local esbuild; the
 * worker image is pinned from context: an immutable tag or digest in the stack's ECR repository, or any image
 * URI by digest, infra/settings.ts).
 */
import { Aws, CfnOutput, Duration, Fn, RemovalPolicy, Size, Stack, type StackProps } from "aws-cdk-lib";
import * as batch from "aws-cdk-lib/aws-batch";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecr from "aws-cdk-lib/aws-ecr";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subs from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { ENV } from "../src/pipeline/ingest/env.js";
import { REJECTION_REPORT } from "../src/pipeline/ingest/keys.js";
import { CHECKPOINT_DIR, CHECKPOINT_TAG } from "../src/pipeline/checkpoint/store.js";
import { WORKER_ERROR_FILE } from "../src/pipeline/notify/batchEvents.js";
import { DEFAULT_JOB_PARAMETERS, INVALID_INPUT_EXIT_CODE, WORKER_COMMAND } from "../src/pipeline/submit/jobSpec.js";
import { EXIT, JOB_ATTEMPTS_ENV } from "../src/pipeline/worker/exitCodes.js";
import { lambdaCode } from "./bundle.js";
import { addSuppressions } from "./nag.js";
import { DIGEST_RE, readSettings, type Settings } from "./settings.js";

export const INCOMING_PREFIX = "incoming/";
export const RESULTS_PREFIX = "results/";
/** Lambda runtime: Node 22 (middy 6 supports Node 20 and 22; this repository is developed on Node 20). */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;
export const INGEST_TIMEOUT = Duration.minutes(5);

export class PtyxrfStack extends Stack {
  readonly settings: Settings;
  readonly scans: s3.Bucket;
  readonly results: s3.Bucket;
  readonly ingestQueue: sqs.Queue;
  readonly ingestDlq: sqs.Queue;
  readonly ingestFn: lambda.Function;
  readonly notifyFn: lambda.Function;
  readonly topic: sns.Topic;
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly uploads: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    // Server access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL.
    this.node.setContext("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", true);
    const cfg = (this.settings = readSettings(this.node));
    const retention = cfg.logRetentionDays;
    const stackSlug = this.stackName.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 20).replace(/-+$/, "");

    // ---------------------------------------------------------------------------------------- storage
    const accessLogs = new s3.Bucket(this, "AccessLogs", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: "expire-logs", expiration: Duration.days(365), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The scans bucket's name is fixed so that the ingest queue's policy can name it without referring to
    // the bucket resource (which itself waits for that policy): no notification custom resource needed.
    const scansBucketName = Fn.join("-", [stackSlug, "scans", Aws.ACCOUNT_ID, Aws.REGION]);
    const scanTransitions: s3.Transition[] = [
      ...(cfg.scanIaDays ? [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(cfg.scanIaDays) }] : []),
      ...(cfg.scanGlacierIrDays ? [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(cfg.scanGlacierIrDays) }] : []),
      ...(cfg.scanDeepArchiveDays ? [{ storageClass: s3.StorageClass.DEEP_ARCHIVE, transitionAfter: Duration.days(cfg.scanDeepArchiveDays) }] : []),
    ];
    this.scans = new s3.Bucket(this, "Scans", {
      bucketName: scansBucketName,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: "scans/",
      lifecycleRules: [
        {
          id: "archive-raw-scans",
          prefix: INCOMING_PREFIX,
          ...(scanTransitions.length ? { transitions: scanTransitions } : {}),
          ...(cfg.noncurrentScanDays ? { noncurrentVersionExpiration: Duration.days(cfg.noncurrentScanDays) } : {}),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Results are versioned: two roles (the worker's, the ingest Lambda's) can write into any user's folder,
    // so an overwrite or a delete by either, by mistake or by a compromised job, must not lose a result.
    this.results = new s3.Bucket(this, "Results", {
      bucketName: Fn.join("-", [stackSlug, "results", Aws.ACCOUNT_ID, Aws.REGION]),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: "results/",
      lifecycleRules: [
        {
          id: "results-to-ia",
          prefix: RESULTS_PREFIX,
          ...(cfg.resultsIaDays ? { transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(cfg.resultsIaDays) }] } : {}),
          ...(cfg.noncurrentResultsDays ? { noncurrentVersionExpiration: Duration.days(cfg.noncurrentResultsDays) } : {}),
          // a delete marker with no version left behind it (e.g. of an expired checkpoint) says nothing
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        {
          // Checkpoints live in each run's folder (results/<user>/<path>/<tag>/_checkpoint/), which no key
          // prefix can select: the worker tags every checkpoint it writes (src/pipeline/checkpoint/store.ts).
          // A successful run deletes its own; one left behind (a failed or abandoned run) expires
          // checkpointExpiryDays after its last save, and the version every save replaces after a day.
          id: "expire-checkpoints",
          prefix: RESULTS_PREFIX,
          tagFilters: { [CHECKPOINT_TAG.key]: CHECKPOINT_TAG.value },
          expiration: Duration.days(cfg.checkpointExpiryDays),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.uploads = new dynamodb.Table(this, "Uploads", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: "expiresAt",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // ---------------------------------------------------------------------------------------- notifications
    const topicKey = new kms.Key(this, "TopicKey", {
      description: "ptyxrf notifications (SNS server-side encryption)",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch alarms publish to the encrypted topic (AWS-managed SNS keys do not allow that).
    topicKey.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
      resources: ["*"],
      conditions: { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
    }));
    this.topic = new sns.Topic(this, "Notifications", {
      displayName: "ptyxrf",
      masterKey: topicKey,
      enforceSSL: true,
    });
    if (cfg.notifyEmail) this.topic.addSubscription(new subs.EmailSubscription(cfg.notifyEmail));
    for (const [user, email] of Object.entries(cfg.userEmails)) {
      this.topic.addSubscription(new subs.EmailSubscription(email, {
        filterPolicy: { user: sns.SubscriptionFilter.stringFilter({ allowlist: [user] }) },
      }));
    }
    const alarmAction = new cwActions.SnsAction(this.topic);

    // ---------------------------------------------------------------------------------------- event delivery
    const queueBase = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) };
    this.ingestDlq = new sqs.Queue(this, "IngestDlq", queueBase);
    this.ingestQueue = new sqs.Queue(this, "IngestQueue", {
      ...queueBase,
      // Six times the function timeout (AWS's advice for SQS event sources), and longer than the claim lease.
      visibilityTimeout: INGEST_TIMEOUT.plus(INGEST_TIMEOUT).plus(INGEST_TIMEOUT).plus(INGEST_TIMEOUT).plus(INGEST_TIMEOUT).plus(INGEST_TIMEOUT),
      deadLetterQueue: { queue: this.ingestDlq, maxReceiveCount: 5 },
    });
    const scansArn = Fn.join("", ["arn:", Aws.PARTITION, ":s3:::", scansBucketName]);
    this.ingestQueue.addToResourcePolicy(new iam.PolicyStatement({
      sid: "S3SendsUploadEvents",
      principals: [new iam.ServicePrincipal("s3.amazonaws.com")],
      actions: ["sqs:SendMessage"],
      resources: [this.ingestQueue.queueArn],
      conditions: { ArnEquals: { "aws:SourceArn": scansArn }, StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
    }));
    const cfnScans = this.scans.node.defaultChild as s3.CfnBucket;
    cfnScans.notificationConfiguration = {
      queueConfigurations: [{
        event: "s3:ObjectCreated:*",
        queue: this.ingestQueue.queueArn,
        filter: { s3Key: { rules: [{ name: "prefix", value: INCOMING_PREFIX }] } },
      }],
    };
    // S3 checks that it may send to the queue when the notification is set: the policy must exist first.
    const queuePolicy = this.ingestQueue.node.findChild("Policy") as sqs.QueuePolicy; // made by addToResourcePolicy
    cfnScans.addResourceDependency(queuePolicy.node.defaultChild as sqs.CfnQueuePolicy);

    // ---------------------------------------------------------------------------------------- Batch
    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: cfg.maxAzs,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      restrictDefaultSecurityGroup: false,
      flowLogs: { toS3: { destination: ec2.FlowLogDestination.toS3(accessLogs, "vpc-flow-logs/"), trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
    const workerSg = new ec2.SecurityGroup(this, "WorkerSecurityGroup", {
      vpc,
      description: "ptyxrf GPU workers: no inbound; outbound HTTPS to S3, ECR, CloudWatch Logs, ECS",
      allowAllOutbound: true,
    });
    const instanceRole = new iam.Role(this, "WorkerInstanceRole", {
      assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"),
      description: "ECS container agent on the Batch GPU instances",
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName("service-role/AmazonEC2ContainerServiceforEC2Role")],
    });
    const launchTemplate = new ec2.LaunchTemplate(this, "WorkerLaunchTemplate", {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      blockDevices: [{
        deviceName: "/dev/xvda",
        volume: ec2.BlockDeviceVolume.ebs(cfg.workerDiskGiB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true, deleteOnTermination: true }),
      }],
    });
    const ceBase = {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [workerSg],
      instanceRole,
      launchTemplate,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      instanceTypes: cfg.instanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      minvCpus: 0,
      updateToLatestImageVersion: true,
    };
    const orderedCes: batch.OrderedComputeEnvironment[] = [];
    const primary = new batch.ManagedEc2EcsComputeEnvironment(this, cfg.spot ? "GpuSpot" : "GpuOnDemand", {
      ...ceBase,
      spot: cfg.spot,
      maxvCpus: cfg.maxVcpus,
      allocationStrategy: cfg.spot ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
    });
    orderedCes.push({ computeEnvironment: primary, order: 1 });
    if (cfg.spot && cfg.onDemandMaxVcpus > 0) {
      const fallback = new batch.ManagedEc2EcsComputeEnvironment(this, "GpuOnDemand", {
        ...ceBase,
        spot: false,
        maxvCpus: cfg.onDemandMaxVcpus,
        allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      });
      orderedCes.push({ computeEnvironment: fallback, order: 2 });
    }
    this.jobQueue = new batch.JobQueue(this, "JobQueue", {
      computeEnvironments: orderedCes,
      priority: 1,
      jobStateTimeLimitActions: [
        // A job no instance type can hold never starts: fail it quickly so the user hears of it.
        { action: batch.JobStateTimeLimitActionsAction.CANCEL, maxTime: Duration.minutes(10), reason: batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT, state: batch.JobStateTimeLimitActionsState.RUNNABLE },
        { action: batch.JobStateTimeLimitActionsAction.CANCEL, maxTime: Duration.hours(cfg.runnableTimeoutHours), reason: batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY, state: batch.JobStateTimeLimitActionsState.RUNNABLE },
      ],
    });

    const workerLogs = new logs.LogGroup(this, "WorkerLogs", { retention, removalPolicy: RemovalPolicy.DESTROY });
    let image: ecs.ContainerImage;
    let repository: ecr.Repository | null = null;
    if (cfg.workerImage) {
      image = ecs.ContainerImage.fromRegistry(cfg.workerImage);
    } else {
      repository = new ecr.Repository(this, "WorkerRepository", {
        imageScanOnPush: true,
        // a tag, once pushed, always names the same image: the job definition's tag is a pin
        imageTagMutability: ecr.TagMutability.IMMUTABLE,
        encryption: ecr.RepositoryEncryption.AES_256,
        lifecycleRules: [{ description: "keep the last 20 images", maxImageCount: 20 }],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      image = ecs.ContainerImage.fromEcrRepository(repository, cfg.workerImageTag!); // a tag or sha256: digest
    }
    const executionRole = new iam.Role(this, "WorkerExecutionRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "Pulls the worker image and writes its logs",
    });
    const jobRole = new iam.Role(this, "WorkerJobRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "The worker: reads scans under incoming/, writes results under results/",
    });
    jobRole.addToPolicy(new iam.PolicyStatement({
      sid: "ReadScans",
      actions: ["s3:GetObject", "s3:GetObjectVersion"],
      resources: [this.scans.arnForObjects(`${INCOMING_PREFIX}*`)],
    }));
    jobRole.addToPolicy(new iam.PolicyStatement({
      sid: "WriteResults",
      actions: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
      resources: [this.results.arnForObjects(`${RESULTS_PREFIX}*`)],
    }));
    jobRole.addToPolicy(new iam.PolicyStatement({
      sid: "DeleteOwnCheckpoints",
      actions: ["s3:DeleteObject"],
      resources: [this.results.arnForObjects(`${RESULTS_PREFIX}*/${CHECKPOINT_DIR}*`)],
    }));
    jobRole.addToPolicy(new iam.PolicyStatement({
      // A PUT with x-amz-tagging needs s3:PutObjectTagging too: the worker tags its checkpoints for the
      // lifecycle rule that expires them, and may tag nothing else (no result can be made to expire).
      sid: "TagOwnCheckpoints",
      actions: ["s3:PutObjectTagging"],
      resources: [this.results.arnForObjects(`${RESULTS_PREFIX}*/${CHECKPOINT_DIR}*`)],
    }));
    grantPublish(this.topic, topicKey, jobRole); // the worker's completion notification with its summary
    jobRole.addToPolicy(new iam.PolicyStatement({
      sid: "ListOwnResults",
      actions: ["s3:ListBucket"],
      resources: [this.results.bucketArn],
      conditions: { StringLike: { "s3:prefix": [`${RESULTS_PREFIX}*`] } },
    }));

    const retryOn = (reason: batch.Reason) => batch.RetryStrategy.of(batch.Action.RETRY, reason);
    this.jobDefinition = new batch.EcsJobDefinition(this, "WorkerJob", {
      container: new batch.EcsEc2ContainerDefinition(this, "WorkerContainer", {
        image,
        cpu: cfg.workerVcpus,
        memory: Size.mebibytes(cfg.workerMemoryMiB),
        gpu: cfg.workerGpus,
        command: WORKER_COMMAND,
        executionRole,
        jobRole,
        // PTYXRF_JOB_ATTEMPTS: a sweep child records its task's failure on its last attempt (docs/sweeps.md)
        environment: { PTYXRF_TOPIC_ARN: this.topic.topicArn, [JOB_ATTEMPTS_ENV]: String(cfg.jobAttempts) },
        logging: ecs.LogDriver.awsLogs({ logGroup: workerLogs, streamPrefix: "worker" }),
      }),
      parameters: { ...DEFAULT_JOB_PARAMETERS },
      timeout: Duration.hours(cfg.jobTimeoutHours),
      retryAttempts: cfg.jobAttempts,
      // Evaluated in order, first match wins; a failure matching none is retried, hence the catch-all.
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onExitCode: String(INVALID_INPUT_EXIT_CODE) })),
        retryOn(batch.Reason.SPOT_INSTANCE_RECLAIMED), // statusReason "Host EC2*": Spot reclaim or a failed host
        retryOn(batch.Reason.CANNOT_PULL_CONTAINER),
        // transient failures and SIGTERM after a final checkpoint: the next attempt resumes from it
        retryOn(batch.Reason.custom({ onExitCode: String(EXIT.retryable) })),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onExitCode: "*" })),
      ],
    });

    // ---------------------------------------------------------------------------------------- ingest Lambda
    const ingestLogs = new logs.LogGroup(this, "IngestLogs", { retention, removalPolicy: RemovalPolicy.DESTROY });
    const ingestRole = lambdaRole(this, "IngestRole", ingestLogs, "ingest Lambda: validates uploads by ranged reads, submits Batch jobs");
    ingestRole.addToPolicy(new iam.PolicyStatement({
      sid: "ReadUploads",
      actions: ["s3:GetObject", "s3:GetObjectVersion"],
      resources: [this.scans.arnForObjects(`${INCOMING_PREFIX}*`)],
    }));
    ingestRole.addToPolicy(new iam.PolicyStatement({
      sid: "ListUploads", // without it a missing sidecar reads as 403 instead of 404
      actions: ["s3:ListBucket"],
      resources: [this.scans.bucketArn],
      conditions: { StringLike: { "s3:prefix": [`${INCOMING_PREFIX}*`] } },
    }));
    ingestRole.addToPolicy(new iam.PolicyStatement({
      sid: "WriteRejectionReports", // the only object the ingest Lambda writes (src/pipeline/ingest/ingest.ts)
      actions: ["s3:PutObject"],
      resources: [this.results.arnForObjects(`${RESULTS_PREFIX}*/${REJECTION_REPORT}`)],
    }));
    ingestRole.addToPolicy(new iam.PolicyStatement({
      sid: "LinkRejectionReports", // presigned links in rejection messages are signed with this role
      actions: ["s3:GetObject"],
      resources: [this.results.arnForObjects(`${RESULTS_PREFIX}*/${REJECTION_REPORT}`)],
    }));
    ingestRole.addToPolicy(new iam.PolicyStatement({
      sid: "SubmitToThisQueueWithThisDefinition",
      actions: ["batch:SubmitJob"],
      resources: [this.jobQueue.jobQueueArn, this.jobDefinition.jobDefinitionArn],
    }));
    ingestRole.addToPolicy(new iam.PolicyStatement({
      sid: "FindJobByName", // ListJobs has no resource-level permissions
      actions: ["batch:ListJobs"],
      resources: ["*"],
    }));
    ingestRole.addToPolicy(new iam.PolicyStatement({
      sid: "IdempotencyRecords",
      actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
      resources: [this.uploads.tableArn],
    }));
    grantPublish(this.topic, topicKey, ingestRole);

    this.ingestFn = new lambda.Function(this, "Ingest", {
      description: "ptyxrf: validate uploaded scans by S3 ranged reads; submit a Batch GPU job or reject",
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      code: lambdaCode("ingest"),
      handler: "ingest.handler",
      memorySize: 1024,
      timeout: INGEST_TIMEOUT,
      role: ingestRole,
      logGroup: ingestLogs,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        [ENV.scansBucket]: this.scans.bucketName,
        [ENV.resultsBucket]: this.results.bucketName,
        [ENV.incomingPrefix]: INCOMING_PREFIX,
        [ENV.resultsPrefix]: RESULTS_PREFIX,
        [ENV.jobQueue]: this.jobQueue.jobQueueArn,
        [ENV.jobDefinition]: this.jobDefinition.jobDefinitionArn,
        [ENV.topicArn]: this.topic.topicArn,
        [ENV.uploadsTable]: this.uploads.tableName,
        [ENV.leaseSeconds]: String(INGEST_TIMEOUT.toSeconds() + 60),
        [ENV.workerMemoryMiB]: String(cfg.workerMemoryMiB),
        [ENV.workerDiskGiB]: String(cfg.workerDiskGiB),
        NODE_OPTIONS: "--enable-source-maps",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      },
    });
    this.ingestFn.addEventSource(new SqsEventSource(this.ingestQueue, {
      batchSize: 5,
      maxBatchingWindow: Duration.seconds(5),
      reportBatchItemFailures: true,
      maxConcurrency: cfg.ingestConcurrency,
    }));

    // ---------------------------------------------------------------------------------------- job notifications
    const notifyDlq = new sqs.Queue(this, "NotifyDlq", queueBase);
    const notifyLogs = new logs.LogGroup(this, "NotifyLogs", { retention, removalPolicy: RemovalPolicy.DESTROY });
    const notifyRole = lambdaRole(this, "NotifyRole", notifyLogs, "notifier Lambda: Batch job state changes to SNS");
    grantPublish(this.topic, topicKey, notifyRole);
    notifyRole.addToPolicy(new iam.PolicyStatement({
      sid: "LinkWorkerErrorReports", // presigned links to error.json in FAILED messages are signed with this role
      actions: ["s3:GetObject"],
      resources: [this.results.arnForObjects(`${RESULTS_PREFIX}*/${WORKER_ERROR_FILE}`)],
    }));
    this.notifyFn = new lambda.Function(this, "Notify", {
      description: "ptyxrf: Batch job finished (SUCCEEDED/FAILED) -> SNS message to the user",
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      code: lambdaCode("notify"),
      handler: "notify.handler",
      memorySize: 256,
      timeout: Duration.seconds(30),
      role: notifyRole,
      logGroup: notifyLogs,
      loggingFormat: lambda.LoggingFormat.JSON,
      deadLetterQueue: notifyDlq,
      retryAttempts: 2,
      environment: { [ENV.topicArn]: this.topic.topicArn, NODE_OPTIONS: "--enable-source-maps", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    });
    new events.Rule(this, "JobFinished", {
      description: "ptyxrf jobs on this queue that SUCCEEDED or FAILED",
      eventPattern: {
        source: ["aws.batch"],
        detailType: ["Batch Job State Change"],
        // not the children of array jobs (a sweep's tasks): the sweep notifies once, from its aggregation
        detail: { jobQueue: [this.jobQueue.jobQueueArn], status: ["SUCCEEDED", "FAILED"], arrayProperties: { index: [{ exists: false }] } },
      },
      targets: [new targets.LambdaFunction(this.notifyFn, { deadLetterQueue: notifyDlq, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });

    // ---------------------------------------------------------------------------------------- alarms
    for (const [id, q, what] of [
      ["IngestDlqAlarm", this.ingestDlq, "uploads that could not be processed (inspect, then redrive to the ingest queue)"],
      ["NotifyDlqAlarm", notifyDlq, "job notifications that could not be delivered"],
    ] as const) {
      const alarm = new cloudwatch.Alarm(this, id, {
        alarmDescription: `ptyxrf: ${what}`,
        metric: q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(alarmAction);
    }
    const ingestErrors = new cloudwatch.Alarm(this, "IngestErrorsAlarm", {
      alarmDescription: "ptyxrf: the ingest Lambda is failing (uploads are retried from the queue)",
      metric: this.ingestFn.metricErrors({ period: Duration.minutes(15) }),
      threshold: 3,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    ingestErrors.addAlarmAction(alarmAction);

    // ---------------------------------------------------------------------------------------- users
    // Attach to collaborators' IAM users: each may write only incoming/<own user name>/ and read results/<own>/.
    const uploader = new iam.ManagedPolicy(this, "UploaderPolicy", {
      description: "ptyxrf collaborators: upload to incoming/${aws:username}/, read results/${aws:username}/",
      statements: [
        new iam.PolicyStatement({
          sid: "UploadOwnScans",
          actions: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"],
          resources: [this.scans.arnForObjects(`${INCOMING_PREFIX}\${aws:username}/*`)],
        }),
        new iam.PolicyStatement({
          sid: "ReadOwnResults",
          actions: ["s3:GetObject"],
          resources: [this.results.arnForObjects(`${RESULTS_PREFIX}\${aws:username}/*`)],
        }),
        new iam.PolicyStatement({
          sid: "ListOwnFolders",
          actions: ["s3:ListBucket"],
          resources: [this.scans.bucketArn, this.results.bucketArn],
          conditions: { StringLike: { "s3:prefix": [`${INCOMING_PREFIX}\${aws:username}/*`, `${RESULTS_PREFIX}\${aws:username}/*`] } },
        }),
      ],
    });

    new CfnOutput(this, "ScansBucket", { value: this.scans.bucketName, description: "upload scans to s3://<this>/incoming/<user>/" });
    new CfnOutput(this, "ResultsBucket", { value: this.results.bucketName, description: "results and rejection reports: s3://<this>/results/<user>/" });
    new CfnOutput(this, "TopicArn", { value: this.topic.topicArn, description: "notifications (attribute user = the uploader)" });
    new CfnOutput(this, "JobQueueArn", { value: this.jobQueue.jobQueueArn });
    new CfnOutput(this, "JobDefinitionArn", { value: this.jobDefinition.jobDefinitionArn, description: "ptyxrf sweep / reprocess --profile aws: PTYXRF_JOB_DEFINITION" });
    new CfnOutput(this, "IngestDlqArn", { value: this.ingestDlq.queueArn, description: "uploads that failed 5 times: inspect, then aws sqs start-message-move-task --source-arn <this>" });
    new CfnOutput(this, "UploaderPolicyArn", { value: uploader.managedPolicyArn });
    if (repository) new CfnOutput(this, "WorkerRepositoryUri", { value: repository.repositoryUri, description: `the worker image; the job definition runs its ${DIGEST_RE.test(cfg.workerImageTag!) ? "digest" : "tag"} ${cfg.workerImageTag} (tags are immutable)` });

    addSuppressions({ instanceRole, executionRole, ingestRole, jobRole, notifyRole, uploader, ingestFn: this.ingestFn, notifyFn: this.notifyFn });
  }
}

/** A Lambda role that may write only to its own log group. */
function lambdaRole(scope: Construct, id: string, logGroup: logs.LogGroup, description: string): iam.Role {
  const role = new iam.Role(scope, id, { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"), description });
  role.addToPolicy(new iam.PolicyStatement({
    sid: "OwnLogGroup",
    actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
    resources: [logGroup.logGroupArn],
  }));
  return role;
}

function grantPublish(topic: sns.Topic, key: kms.Key, role: iam.Role): void {
  role.addToPolicy(new iam.PolicyStatement({ sid: "PublishNotifications", actions: ["sns:Publish"], resources: [topic.topicArn] }));
  role.addToPolicy(new iam.PolicyStatement({ sid: "EncryptNotifications", actions: ["kms:GenerateDataKey", "kms:Decrypt"], resources: [key.keyArn] }));
}
