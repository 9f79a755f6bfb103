/**
 * Lambda entry point: EventBridge "Batch Job State Change" (SUCCEEDED / FAILED) -> SNS message to the user.
 * A thin middy wrapper around src/pipeline/notify/batchEvents.ts.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { awsNotifierFromEnv } from "../src/pipeline/notify/awsNotifier.js";
import { handleJobStateChange, type BatchJobEvent } from "../src/pipeline/notify/batchEvents.js";
import { consoleLogger } from "../src/pipeline/ingest/log.js";
import type { Notifier } from "../src/pipeline/notify/notifier.js";

let notifier: Notifier | null = null;

/** For tests: replace the notifier (null: build it from the environment on the next call). */
export function setNotifier(n: Notifier | null): void {
  notifier = n;
}

async function notify(event: BatchJobEvent, _context: Context): Promise<void> {
  notifier ??= awsNotifierFromEnv();
  await handleJobStateChange(event, notifier, consoleLogger);
}

export const handler = middy<BatchJobEvent, void>().handler(notify);
