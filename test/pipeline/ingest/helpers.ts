/**
 * The ingest path against a real S3-compatible server (s3rver in a child process on 127.0.0.1): real HTTP
 * for every S3 request, uploads that produce real S3 event records; Batch and SNS are aws-sdk-client-mock
 * mocks (their calls are recorded and asserted).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BatchClient, ListJobsCommand, SubmitJobCommand } from "@aws-sdk/client-batch";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { S3EventRecord, SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { DEFAULT_SETTINGS, rangeOpener, type IngestDeps, type IngestSettings } from "../../../src/pipeline/ingest/ingest.js";
import { MemoryLogger } from "../../../src/pipeline/ingest/log.js";
import { SnsNotifier } from "../../../src/pipeline/notify/notifier.js";
import { MemoryIdempotencyStore, type IdempotencyStore } from "../../../src/pipeline/storage/idempotency.js";
import { startLocalS3, type LocalS3 } from "../../../src/pipeline/storage/localS3.js";
import { S3ObjectStore } from "../../../src/pipeline/storage/objectStore.js";
import { BatchSubmitter } from "../../../src/pipeline/submit/submitter.js";
import { makeS3Client } from "../../../src/scan/s3Client.js";
import { S3RangeReader } from "../../../src/scan/s3Source.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export const SCANS = "ptyxrf-scans";
export const RESULTS = "ptyxrf-results";
export const QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/ptyxrf";
export const JOBDEF_ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/ptyxrf-worker:3";
export const TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ptyxrf";

export interface Env {
  s3: LocalS3;
  client: S3Client;
  reader: S3RangeReader;
  dir: string;
  close(): Promise<void>;
}

export async function startEnv(prefix = "ptyxrf-ingest-"): Promise<Env> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const s3 = await startLocalS3({ directory: path.join(dir, "s3"), buckets: [SCANS, RESULTS] });
  const client = makeS3Client(s3.settings);
  const reader = new S3RangeReader(s3.settings, { timeoutMs: 20_000 });
  return {
    s3, client, reader, dir,
    async close() {
      reader.close();
      client.destroy();
      await s3.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Mocked Batch and SNS clients (every instance in this process), answering like the services. */
export function mockServices() {
  const batch = mockClient(BatchClient);
  const sns = mockClient(SNSClient);
  let n = 0;
  batch.on(SubmitJobCommand).callsFake((input: { jobName: string }) => {
    n += 1;
    return { jobId: `job-${n}`, jobName: input.jobName, jobArn: `arn:aws:batch:us-east-1:123456789012:job/job-${n}` };
  });
  batch.on(ListJobsCommand).resolves({ jobSummaryList: [] });
  sns.on(PublishCommand).callsFake(() => ({ MessageId: `msg-${crypto.randomUUID()}` }));
  return {
    batch, sns,
    submits: () => batch.commandCalls(SubmitJobCommand).map((c) => c.args[0].input),
    publishes: () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input),
    restore() {
      batch.restore();
      sns.restore();
    },
  };
}

export function makeDeps(env: Env, over: Partial<Omit<IngestDeps, "settings">> & { settings?: Partial<IngestSettings> } = {}): IngestDeps & { log: MemoryLogger; uploads: IdempotencyStore } {
  const { settings, ...rest } = over;
  return {
    objects: new S3ObjectStore(env.client),
    openScan: rangeOpener(env.reader),
    submitter: new BatchSubmitter(new BatchClient({ region: "us-east-1" }), QUEUE_ARN, JOBDEF_ARN),
    notifier: new SnsNotifier(new SNSClient({ region: "us-east-1" }), TOPIC_ARN),
    uploads: new MemoryIdempotencyStore(),
    log: new MemoryLogger(),
    ...rest,
    settings: { ...DEFAULT_SETTINGS, resultsBucket: RESULTS, ...settings },
  } as IngestDeps & { log: MemoryLogger; uploads: IdempotencyStore };
}

/** Uploads `body` and returns the S3 event record s3rver emitted for it. */
export async function upload(env: Env, key: string, body: Uint8Array | string, metadata?: Record<string, string>, bucket = SCANS): Promise<S3EventRecord> {
  const before = env.s3.events.length;
  await env.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(metadata ? { Metadata: metadata } : {}) }));
  const events = await env.s3.waitForEvents(before + 1);
  const rec = events.slice(before).find((e) => e.s3.object.key === key);
  if (!rec) throw new Error(`no event for ${key}`);
  return rec;
}

let messageCounter = 0;

/** An SQS message carrying S3 event records, as S3 -> SQS delivers it. */
export function sqsRecord(records: S3EventRecord[], messageId = `m-${++messageCounter}`): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: JSON.stringify({ Records: records }),
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "s3", ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:ingest",
    awsRegion: "us-east-1",
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

export async function getBytes(env: Env, bucket: string, key: string): Promise<Uint8Array> {
  const r = await env.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToByteArray();
}

export async function getJson<T = unknown>(env: Env, bucket: string, key: string): Promise<T> {
  return JSON.parse(Buffer.from(await getBytes(env, bucket, key)).toString("utf8")) as T;
}

export async function etagOf(env: Env, bucket: string, key: string): Promise<string> {
  return (await env.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? "";
}

export function sha256(bytes: Uint8Array): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}
