/**
 * The LocalStack profile (`ptyxrf local up --profile localstack`): the same pipeline with S3, SQS, SNS and
 * DynamoDB on LocalStack (localstack/compose.yaml), every client pointed at AWS_ENDPOINT_URL.
 *
 *   bootstrap (idempotent)  scans bucket (versioned) + results bucket; ingest queue with a dead-letter queue
 *                           (maxReceiveCount 5); the scans bucket's s3:ObjectCreated:* notification on
 *                           incoming/ to the queue; the uploads table (pk); the topic, with a notifications
 *                           queue subscribed so that messages can be shown here
 *   ingest                  this process long-polls the ingest queue and runs the Lambda's code on each batch
 *                           (handleSqsBatch: DynamoDB idempotency, SNS notifications); failed messages
 *                           return to the queue after its visibility timeout, as with the Lambda poller
 *   jobs                    LocalStack's Batch when it offers Batch (a Pro feature; the job queue and job
 *                           definition must exist there: PTYXRF_JOB_QUEUE, PTYXRF_JOB_DEFINITION), otherwise
 *                           the local job runner, whose workers talk to LocalStack's S3 and SNS
 *   notifications           drained from the notifications queue, printed and appended to
 *                           <dataDir>/notifications.jsonl
 *
 * The Lambda functions themselves are not deployed into LocalStack (that needs Docker-in-Docker for
 * LocalStack's Lambda runtime and `cdklocal`); their code runs here, unchanged.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchClient } from "@aws-sdk/client-batch";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutBucketVersioningCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SetQueueAttributesCommand, SQSClient, type Message } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { makeS3Client } from "../../scan/s3Client.js";
import { S3RangeReader, type S3ClientSettings } from "../../scan/s3Source.js";
import { DEFAULT_SETTINGS, rangeOpener, type IngestDeps } from "../ingest/ingest.js";
import { errorFields, type Logger, type LogLevel } from "../ingest/log.js";
import { handleSqsBatch } from "../ingest/sqs.js";
import { handleJobStateChange } from "../notify/batchEvents.js";
import { SnsNotifier, type Notification, type NotificationKind } from "../notify/notifier.js";
import { DynamoIdempotencyStore } from "../storage/dynamoIdempotency.js";
import { S3ObjectStore } from "../storage/objectStore.js";
import { BatchSubmitter, type JobSubmitter } from "../submit/submitter.js";
import { formatNotification, JsonLinesNotifier } from "./notifications.js";
import { chooseBatchBackend, localStackHealth, resolveLocalStackConfig, type LocalStackConfig } from "./profile.js";
import { LocalJobRunner } from "./runner.js";
import { batchEvent, localPaths } from "./stack.js";

export interface LocalStackClients {
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  dynamodb: DynamoDBClient;
  batch: BatchClient;
  s3Settings: S3ClientSettings;
}

export function localStackClients(c: LocalStackConfig): LocalStackClients {
  const common = { region: c.region, credentials: c.credentials };
  const s3Settings: S3ClientSettings = { region: c.region, endpoint: c.endpoints.s3, forcePathStyle: true, credentials: c.credentials, checksums: "WHEN_REQUIRED", maxAttempts: 3 };
  return {
    s3: makeS3Client(s3Settings),
    sqs: new SQSClient({ ...common, endpoint: c.endpoints.sqs }),
    sns: new SNSClient({ ...common, endpoint: c.endpoints.sns }),
    dynamodb: new DynamoDBClient({ ...common, endpoint: c.endpoints.dynamodb }),
    batch: new BatchClient({ ...common, endpoint: c.endpoints.batch }),
    s3Settings,
  };
}

export interface Bootstrapped {
  ingestQueueUrl: string;
  ingestQueueArn: string;
  notificationsQueueUrl: string;
  topicArn: string;
}

/** Runs a create call, tolerating "it exists already" answers (the bootstrap runs at every start). */
async function tolerate(call: () => Promise<unknown>, ...names: string[]): Promise<void> {
  try {
    await call();
  } catch (err) {
    const e = err as { name?: string; Code?: string };
    if (!names.includes(e.name ?? "") && !names.includes(e.Code ?? "")) throw err;
  }
}

async function queue(sqs: SQSClient, name: string, attributes: Record<string, string> = {}): Promise<{ url: string; arn: string }> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn ?? `arn:aws:sqs:local:000000000000:${name}`;
  return { url, arn };
}

/** Creates (or finds) everything the pipeline needs on LocalStack. Safe to run again. */
export async function bootstrapLocalStack(k: LocalStackClients, c: LocalStackConfig): Promise<Bootstrapped> {
  for (const b of [c.scansBucket, c.resultsBucket]) {
    await tolerate(() => k.s3.send(new CreateBucketCommand({ Bucket: b })), "BucketAlreadyOwnedByYou", "BucketAlreadyExists");
  }
  // Versioned like the deployed scans bucket: every upload is a version, and the CLI computes the run id.
  await k.s3.send(new PutBucketVersioningCommand({ Bucket: c.scansBucket, VersioningConfiguration: { Status: "Enabled" } }));
  const dlq = await queue(k.sqs, `${c.ingestQueue}-dlq`, { MessageRetentionPeriod: "1209600" });
  const ingest = await queue(k.sqs, c.ingestQueue, { VisibilityTimeout: "360", MessageRetentionPeriod: "1209600" });
  await k.sqs.send(new SetQueueAttributesCommand({ QueueUrl: ingest.url, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 5 }) } }));
  await k.s3.send(new PutBucketNotificationConfigurationCommand({
    Bucket: c.scansBucket,
    NotificationConfiguration: {
      QueueConfigurations: [{ QueueArn: ingest.arn, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "incoming/" }] } } }],
    },
  }));
  await tolerate(() => k.dynamodb.send(new CreateTableCommand({
    TableName: c.uploadsTable, BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
  })), "ResourceInUseException");
  const topicArn = (await k.sns.send(new CreateTopicCommand({ Name: c.topic }))).TopicArn!;
  const notes = await queue(k.sqs, c.notificationsQueue);
  await k.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: notes.arn }));
  return { ingestQueueUrl: ingest.url, ingestQueueArn: ingest.arn, notificationsQueueUrl: notes.url, topicArn };
}

/** An SQS message as the Lambda event source mapping hands it to the function. */
export function toSqsRecord(m: Message, queueArn: string, region: string): SQSRecord {
  return {
    messageId: m.MessageId ?? "", receiptHandle: m.ReceiptHandle ?? "", body: m.Body ?? "",
    attributes: {
      ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1", SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
      SenderId: m.Attributes?.SenderId ?? "", ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {}, md5OfBody: m.MD5OfBody ?? "", eventSource: "aws:sqs", eventSourceARN: queueArn, awsRegion: region,
  };
}

/** The notification inside an SNS -> SQS envelope (the message's `sqs` JSON variant), or null. */
export function notificationFromEnvelope(body: string): Notification | null {
  try {
    const env = JSON.parse(body) as { Type?: string; Message?: string; Subject?: string };
    const msg = JSON.parse(env.Message ?? body) as Record<string, unknown> & { user?: string; event?: string; subject?: string; text?: string };
    if (!msg.event || !msg.user) return null;
    const { user, event, subject, ...details } = msg;
    return { user, kind: event as NotificationKind, subject: String(subject ?? env.Subject ?? ""), text: String(subject ?? ""), details };
  } catch {
    return null;
  }
}

export interface BridgeOptions {
  env: NodeJS.ProcessEnv;
  dataDir?: string;
  concurrency?: number;
  io: { out: (t: string) => void; err: (t: string) => void };
  /** Resolves when the bridge should stop (Ctrl-C). */
  untilStopped: () => Promise<unknown>;
}

/** `ptyxrf local up --profile localstack`: bootstrap, then poll until stopped. Returns the exit code. */
export async function runLocalStackBridge(o: BridgeOptions): Promise<number> {
  const c = resolveLocalStackConfig(o.env, o.dataDir ? path.resolve(o.dataDir) : undefined);
  if (c.problems.length) {
    o.io.err(`ptyxrf local up: ${c.problems.join("; ")}`);
    return 2;
  }
  const health = await localStackHealth(c.endpoint);
  if (!health) {
    o.io.err(`ptyxrf local up: LocalStack is not reachable at ${c.endpoint}: start it with \`docker compose -f localstack/compose.yaml up -d\` (or set AWS_ENDPOINT_URL)`);
    return 1;
  }
  const paths = localPaths(c.dataDir);
  fs.mkdirSync(c.dataDir, { recursive: true });
  const log: Logger = {
    log(level: LogLevel, message: string, fields: Record<string, unknown> = {}) {
      fs.appendFileSync(paths.log, `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
      if (level !== "debug" && message !== "ignored") o.io.out(`${level} ${message} ${JSON.stringify(fields).slice(0, 200)}`);
    },
  };
  const k = localStackClients(c);
  const b = await bootstrapLocalStack(k, c);
  const notifier = new SnsNotifier(k.sns, b.topicArn);
  const choice = chooseBatchBackend(c.batch, health);
  let runner: LocalJobRunner | null = null;
  let submitter: JobSubmitter;
  if (choice.backend === "localstack") {
    submitter = new BatchSubmitter(k.batch, c.jobQueue, c.jobDefinition);
  } else {
    runner = new LocalJobRunner({
      dir: paths.jobs, concurrency: o.concurrency ?? 1,
      env: {
        AWS_REGION: c.region, AWS_ACCESS_KEY_ID: c.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: c.credentials.secretAccessKey,
        AWS_ENDPOINT_URL: c.endpoint, AWS_ENDPOINT_URL_S3: c.endpoints.s3, AWS_ENDPOINT_URL_SNS: c.endpoints.sns,
        PTYXRF_S3_CHECKSUMS: "WHEN_REQUIRED", PTYXRF_TOPIC_ARN: b.topicArn, PTYXRF_SCRATCH: paths.scratch, PTYXRF_PROGRESS_SECONDS: "2",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      },
      onStatus: (r) => {
        log.log("info", "job", { jobId: r.jobId, status: r.status, statusReason: r.statusReason });
        if (r.status === "FAILED") void handleJobStateChange(batchEvent(r), notifier, log).catch((err: unknown) => log.log("error", "job notification failed", errorFields(err)));
      },
    });
    runner.resumePending();
    submitter = runner;
  }
  const reader = new S3RangeReader(k.s3Settings, { timeoutMs: 30_000 });
  const deps: IngestDeps = {
    objects: new S3ObjectStore(k.s3), openScan: rangeOpener(reader), submitter, notifier,
    uploads: new DynamoIdempotencyStore(k.dynamodb, c.uploadsTable),
    settings: { ...DEFAULT_SETTINGS, resultsBucket: c.resultsBucket, scanBuckets: [c.scansBucket] }, log,
  };
  const local = new JsonLinesNotifier(paths.notifications, "localstack", (n) => o.io.out(`\n${formatNotification(n)}\n`));
  o.io.out(`ptyxrf on LocalStack ${health.version ?? ""} at ${c.endpoint} (region ${c.region}${c.authTokenSet ? ", auth token set" : ""})
  buckets       s3://${c.scansBucket}/incoming/<user>/ (versioned) -> s3://${c.resultsBucket}/results/<user>/
  ingest        ${b.ingestQueueUrl} (dead-letter queue ${c.ingestQueue}-dlq), table ${c.uploadsTable}
  topic         ${b.topicArn}
  jobs          ${choice.backend === "localstack" ? `LocalStack Batch: queue ${c.jobQueue}, definition ${c.jobDefinition}` : `local job runner (${paths.jobs})`}: ${choice.reason}
  submit        npx ptyxrf submit SCAN.h5 --profile localstack --wait
  Ctrl-C stops.`);

  let stopping = false;
  const stopped = o.untilStopped().then(() => { stopping = true; });
  const pollIngest = async () => {
    while (!stopping) {
      try {
        const r = await k.sqs.send(new ReceiveMessageCommand({ QueueUrl: b.ingestQueueUrl, MaxNumberOfMessages: 5, WaitTimeSeconds: 2, MessageSystemAttributeNames: ["All"] }));
        const msgs = r.Messages ?? [];
        if (!msgs.length) continue;
        const { response } = await handleSqsBatch({ Records: msgs.map((m) => toSqsRecord(m, b.ingestQueueArn, c.region)) }, deps);
        const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        const done = msgs.filter((m) => !failed.has(m.MessageId ?? ""));
        if (done.length) await k.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: b.ingestQueueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      } catch (err) {
        log.log("error", "ingest poll failed", errorFields(err));
        await new Promise((res) => setTimeout(res, 2000));
      }
    }
  };
  const pollNotes = async () => {
    while (!stopping) {
      try {
        const r = await k.sqs.send(new ReceiveMessageCommand({ QueueUrl: b.notificationsQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }));
        const msgs = r.Messages ?? [];
        for (const m of msgs) {
          const n = notificationFromEnvelope(m.Body ?? "");
          if (n) await local.publish(n);
        }
        if (msgs.length) await k.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: b.notificationsQueueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      } catch (err) {
        log.log("error", "notification poll failed", errorFields(err));
        await new Promise((res) => setTimeout(res, 2000));
      }
    }
  };
  await Promise.all([pollIngest(), pollNotes(), stopped]);
  await runner?.stop();
  reader.close();
  for (const client of [k.s3, k.sqs, k.sns, k.dynamodb, k.batch]) client.destroy();
  o.io.out("stopped");
  return 0;
}
