/**
 * The Lambda entry points (functions/): thin middy wrappers. Their dependencies come from the environment
 * the stack sets (ENV), or are injected here; S3 is not touched by these cases, SNS is mocked.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { handler as ingestHandler, setDeps } from "../../functions/ingest.js";
import { handler as notifyHandler, setNotifier } from "../../functions/notify.js";
import { ingestDepsFromEnv } from "../../src/pipeline/ingest/awsDeps.js";
import { ENV } from "../../src/pipeline/ingest/env.js";
import { MemoryLogger } from "../../src/pipeline/ingest/log.js";
import { MemoryNotifier } from "../../src/pipeline/notify/notifier.js";
import { MemoryIdempotencyStore } from "../../src/pipeline/storage/idempotency.js";
import type { ObjectStore } from "../../src/pipeline/storage/objectStore.js";
import { MemorySubmitter } from "../../src/pipeline/submit/submitter.js";
import { DEFAULT_SETTINGS } from "../../src/pipeline/ingest/ingest.js";
import type { BatchJobEvent } from "../../src/pipeline/notify/batchEvents.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const context = { awsRequestId: "req-1", getRemainingTimeInMillis: () => 300_000 } as unknown as Context;
const unused = () => {
  throw new Error("not used by these cases");
};

afterAll(() => {
  setDeps(null);
  setNotifier(null);
});

describe("functions/ingest", () => {
  it("returns the batch item failures of the SQS batch", async () => {
    const log = new MemoryLogger();
    setDeps({
      objects: { head: unused, getText: unused, putJson: unused } as unknown as ObjectStore,
      openScan: unused, submitter: new MemorySubmitter(), notifier: new MemoryNotifier(), uploads: new MemoryIdempotencyStore(),
      settings: { ...DEFAULT_SETTINGS, resultsBucket: "r" }, log,
    });
    const s3rec = { eventSource: "aws:s3", eventName: "ObjectCreated:Put", s3: { bucket: { name: "b" }, object: { key: "incoming/a/readme.txt", size: 1 } } };
    const res = await ingestHandler({
      Records: [
        { messageId: "ok", body: JSON.stringify({ Records: [s3rec] }) },
        { messageId: "broken", body: "<xml/>" },
      ],
    } as never, context);
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: "broken" }] });
    expect(log.messages()).toEqual(["ignored", "message failed; it will be retried"]);
  });

  it("builds its dependencies from the stack's environment, and names a missing variable", () => {
    const env = {
      AWS_REGION: "eu-west-1",
      [ENV.scansBucket]: "scans", [ENV.resultsBucket]: "results", [ENV.jobQueue]: "q", [ENV.jobDefinition]: "d:1",
      [ENV.topicArn]: "arn:aws:sns:eu-west-1:1:t", [ENV.uploadsTable]: "uploads", [ENV.leaseSeconds]: "360",
      [ENV.incomingPrefix]: "incoming/", [ENV.resultsPrefix]: "results/",
    };
    const deps = ingestDepsFromEnv(env);
    try {
      expect(deps.settings).toEqual({ ...DEFAULT_SETTINGS, resultsBucket: "results", leaseMs: 360_000, scanBuckets: ["scans"] });
      expect(deps.reader.settings).toEqual({ region: "eu-west-1" });
    } finally {
      deps.reader.close();
    }
    // the worker's memory and scratch volume (infra/stack.ts) become the validator's capacity limits
    const sized = ingestDepsFromEnv({ ...env, [ENV.workerMemoryMiB]: "30720", [ENV.workerDiskGiB]: "200" });
    try {
      expect(sized.settings.limits).toEqual({ maxWorkerMemoryBytes: 28 * 2 ** 30, maxScratchBytes: 164 * 2 ** 30 });
    } finally {
      sized.reader.close();
    }
    const { [ENV.uploadsTable]: _gone, ...partial } = env;
    expect(() => ingestDepsFromEnv(partial)).toThrow(`missing environment variable ${ENV.uploadsTable}`);
  });
});

describe("functions/notify", () => {
  const sns = mockClient(SNSClient);
  const s3 = mockClient(S3Client);
  afterEach(() => {
    sns.reset();
    s3.reset();
  });

  it("publishes a finished job to the topic from the environment, with the user attribute and a link to the error report", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m" });
    s3.on(HeadObjectCommand, { Bucket: "r", Key: "results/bob/s/t/error.json" }).resolves({});
    setNotifier(null);
    const saved = Object.fromEntries(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", ENV.topicArn].map((k) => [k, process.env[k]]));
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret", AWS_REGION: "us-east-1", [ENV.topicArn]: "arn:aws:sns:us-east-1:1:ptyxrf" });
    try {
      const event: BatchJobEvent = {
        version: "0", id: "e", "detail-type": "Batch Job State Change", source: "aws.batch", account: "1", time: "", region: "us-east-1", resources: [],
        detail: { jobName: "ptyxrf-bob-s-0123456789abcdef", jobId: "j", status: "FAILED", statusReason: "Host EC2 (instance i-1) terminated.", parameters: { user: "bob", scanUri: "s3://b/incoming/bob/s.h5", resultPrefix: "s3://r/results/bob/s/t/" } },
      };
      await notifyHandler(event, context);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toMatchObject({
      TopicArn: "arn:aws:sns:us-east-1:1:ptyxrf",
      MessageAttributes: { user: { StringValue: "bob" }, event: { StringValue: "failed" } },
    });
    const message = JSON.parse(calls[0].args[0].input.Message!) as { default: string; sqs: string };
    const details = JSON.parse(message.sqs) as { links?: { error: string }; linksError?: string };
    expect(details.linksError).toBeUndefined();
    const url = new URL(details.links!.error);
    expect(message.default.split("\n").some((l) => /^\s+error\.json\s+https:/.test(l) && l.endsWith(details.links!.error))).toBe(true);
    expect(url.pathname).toMatch(/\/results\/bob\/s\/t\/error\.json$/);
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
  });
});
