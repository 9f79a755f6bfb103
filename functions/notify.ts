/**
 * Lambda entry point: EventBridge "Batch Job State Change" (SUCCEEDED / FAILED) -> SNS message to the user.
 * A thin middy wrapper around src/pipeline/notify/batchEvents.ts.
 */
import { S3Client } from "@aws-sdk/client-s3";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { awsNotifierFromEnv } from "../src/pipeline/notify/awsNotifier.js";
import { handleJobStateChange, type BatchJobEvent } from "../src/pipeline/notify/batchEvents.js";
import { consoleLogger } from "../src/pipeline/ingest/log.js";
import type { Notifier } from "../src/pipeline/notify/notifier.js";

let notifier: Notifier | null = null;
let s3: S3Client | null = null;

/** For tests: replace the notifier (null: build it from the environment on the next call). */
export function setNotifier(n: Notifier | null): void {
  notifier = n;
}

async function notify(event: BatchJobEvent, _context: Context): Promise<void> {
  notifier ??= awsNotifierFromEnv();
  s3 ??= new S3Client({});
  // FAILED messages link the worker's error report (presigned with this function's role)
  await handleJobStateChange(event, notifier, consoleLogger, { s3 });
}

export const handler = middy<BatchJobEvent, void>().handler(notify);
