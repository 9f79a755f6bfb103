/**
 * One SQS batch of S3 event notifications. Messages are processed one after another; a message whose
 * processing failed is reported back as a batch item failure (ReportBatchItemFailures), so only it returns
 * to the queue, and after the queue's maxReceiveCount it lands in the dead-letter queue: no upload is lost.
 */
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { uploadsFromMessage } from "./events.js";
import { ingestUpload, type IngestDeps, type IngestOutcome } from "./ingest.js";
import { errorFields } from "./log.js";

export interface BatchResult {
  response: SQSBatchResponse;
  outcomes: IngestOutcome[];
}

export async function handleSqsBatch(event: SQSEvent, deps: IngestDeps): Promise<BatchResult> {
  const failures: SQSBatchResponse["batchItemFailures"] = [];
  const outcomes: IngestOutcome[] = [];
  for (const record of event.Records ?? []) {
    try {
      const uploads = uploadsFromMessage(record.body);
      if (uploads.length === 0) deps.log.log("info", "ignored", { messageId: record.messageId, reason: "no S3 records (test event?)" });
      for (const upload of uploads) outcomes.push(await ingestUpload(upload, deps));
    } catch (err) {
      deps.log.log("error", "message failed; it will be retried", {
        messageId: record.messageId, receiveCount: record.attributes?.ApproximateReceiveCount, ...errorFields(err),
      });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { response: { batchItemFailures: failures }, outcomes };
}
