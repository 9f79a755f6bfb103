/**
 * Lambda entry point: S3 upload events through SQS -> validate by ranged reads -> submit a Batch job or
 * reject. A thin middy wrapper: the logic is src/pipeline/ingest (handleSqsBatch, ingestUpload).
 * The dependencies (clients, the ranged-read worker thread) are made once per container and reused.
 */
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { ingestDepsFromEnv } from "../src/pipeline/ingest/awsDeps.js";
import type { IngestDeps } from "../src/pipeline/ingest/ingest.js";
import { handleSqsBatch } from "../src/pipeline/ingest/sqs.js";

let deps: IngestDeps | null = null;

/** For tests: replace the dependencies (null: build them from the environment on the next call). */
export function setDeps(d: IngestDeps | null): void {
  deps = d;
}

async function ingest(event: SQSEvent, _context: Context): Promise<SQSBatchResponse> {
  deps ??= ingestDepsFromEnv();
  const { response } = await handleSqsBatch(event, deps);
  return response;
}

export const handler = middy<SQSEvent, SQSBatchResponse>().handler(ingest);
