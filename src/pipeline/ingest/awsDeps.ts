/** The ingest and notifier dependencies in AWS, from the Lambda's environment (ENV in env.ts). */
import { BatchClient } from "@aws-sdk/client-batch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { workerLimits } from "../../scan/limits.js";
import { makeS3Client, s3SettingsFromEnv } from "../../scan/s3Client.js";
import { S3RangeReader } from "../../scan/s3Source.js";
import { SnsNotifier } from "../notify/notifier.js";
import { DynamoIdempotencyStore } from "../storage/dynamoIdempotency.js";
import { S3ObjectStore } from "../storage/objectStore.js";
import { BatchSubmitter } from "../submit/submitter.js";
import { ENV } from "./env.js";
import { DEFAULT_SETTINGS, rangeOpener, type IngestDeps } from "./ingest.js";
import { consoleLogger } from "./log.js";

function need(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`missing environment variable ${name}`);
  return v;
}

export interface AwsClients {
  s3?: S3Client;
  batch?: BatchClient;
  sns?: SNSClient;
  dynamodb?: DynamoDBClient;
}

export function ingestDepsFromEnv(env: NodeJS.ProcessEnv = process.env, clients: AwsClients = {}): IngestDeps & { reader: S3RangeReader } {
  const s3Settings = s3SettingsFromEnv(env);
  const reader = new S3RangeReader(s3Settings);
  const lease = Number(env[ENV.leaseSeconds]);
  const memoryMiB = Number(env[ENV.workerMemoryMiB]), diskGiB = Number(env[ENV.workerDiskGiB]);
  return {
    reader,
    objects: new S3ObjectStore(clients.s3 ?? makeS3Client(s3Settings)),
    openScan: rangeOpener(reader),
    submitter: new BatchSubmitter(clients.batch ?? new BatchClient({}), need(env, ENV.jobQueue), need(env, ENV.jobDefinition)),
    notifier: new SnsNotifier(clients.sns ?? new SNSClient({}), need(env, ENV.topicArn)),
    uploads: new DynamoIdempotencyStore(clients.dynamodb ?? new DynamoDBClient({}), need(env, ENV.uploadsTable)),
    settings: {
      ...DEFAULT_SETTINGS,
      resultsBucket: need(env, ENV.resultsBucket),
      layout: {
        incomingPrefix: env[ENV.incomingPrefix] ?? DEFAULT_SETTINGS.layout.incomingPrefix,
        resultsPrefix: env[ENV.resultsPrefix] ?? DEFAULT_SETTINGS.layout.resultsPrefix,
      },
      ...(lease > 0 ? { leaseMs: lease * 1000 } : {}),
      ...(env[ENV.scansBucket] ? { scanBuckets: [env[ENV.scansBucket]!] } : {}),
      ...(memoryMiB > 0 && diskGiB > 0 ? { limits: workerLimits(memoryMiB, diskGiB) } : {}),
    },
    log: consoleLogger,
  };
}
