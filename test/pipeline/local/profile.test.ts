/**
 * Profiles and the LocalStack profile without Docker: configuration resolution from the environment
 * (AWS_ENDPOINT_URL and per-service endpoints, credentials, buckets), where Batch jobs go, the compose file,
 * the bootstrap's calls (aws-sdk-client-mock), SQS records and SNS envelopes; the local notifier's file.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutBucketVersioningCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, describe, expect, it } from "vitest";
import { bootstrapLocalStack, localStackClients, notificationFromEnvelope, toSqsRecord } from "../../../src/pipeline/local/localstack.js";
import { followNotifications, JsonLinesNotifier, readNotifications, type NotificationLine } from "../../../src/pipeline/local/notifications.js";
import { chooseBatchBackend, NoLocalStackError, ProfileError, resolveLocalStackConfig, resolveProfile } from "../../../src/pipeline/local/profile.js";
import { stackFile } from "../../../src/pipeline/local/layout.js";
import { workerS3Settings } from "../../../src/pipeline/worker/main.js";
import { uploadsFromMessage } from "../../../src/pipeline/ingest/events.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-profile-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("LocalStack profile configuration", () => {
  it("defaults: localhost:4566, test credentials, the local bucket names, Batch chosen automatically", () => {
    const c = resolveLocalStackConfig({});
    expect(c.endpoint).toBe("http://localhost:4566");
    expect(c.endpoints).toEqual({ s3: c.endpoint, sqs: c.endpoint, sns: c.endpoint, dynamodb: c.endpoint, batch: c.endpoint });
    expect(c.credentials).toEqual({ accessKeyId: "test", secretAccessKey: "test" });
    expect([c.region, c.scansBucket, c.resultsBucket, c.batch, c.authTokenSet]).toEqual(["us-east-1", "ptyxrf-scans", "ptyxrf-results", "auto", false]);
    expect(c.problems).toEqual([]);
  });

  it("every client's endpoint from AWS_ENDPOINT_URL, per-service overrides, credentials and names from the environment", () => {
    const c = resolveLocalStackConfig({
      AWS_ENDPOINT_URL: "http://ls:4566", AWS_ENDPOINT_URL_S3: "http://s3.ls:4566", AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", PTYXRF_SCANS_BUCKET: "my-scans", PTYXRF_BATCH: "local", LOCALSTACK_AUTH_TOKEN: "ls-xyz",
    });
    expect(c.endpoints.s3).toBe("http://s3.ls:4566");
    expect(c.endpoints.sqs).toBe("http://ls:4566");
    expect(c.credentials).toEqual({ accessKeyId: "k", secretAccessKey: "s" });
    expect([c.region, c.scansBucket, c.batch, c.authTokenSet]).toEqual(["eu-west-1", "my-scans", "local", true]);
    expect(resolveLocalStackConfig({ AWS_ENDPOINT_URL: "ls:4566", PTYXRF_BATCH: "sometimes" }).problems).toHaveLength(2);
    const k = localStackClients(c);
    expect(k.s3Settings).toMatchObject({ endpoint: "http://s3.ls:4566", forcePathStyle: true, region: "eu-west-1" });
    for (const client of [k.s3, k.sqs, k.sns, k.dynamodb, k.batch]) client.destroy();
  });

  it("Batch goes to LocalStack only when it offers Batch, otherwise to the local job runner", () => {
    const up = { services: { batch: "available", s3: "running" } };
    const none = { services: { s3: "running" } };
    expect(chooseBatchBackend("auto", up).backend).toBe("localstack");
    expect(chooseBatchBackend("auto", { services: { batch: "running" } }).backend).toBe("localstack");
    expect(chooseBatchBackend("auto", none)).toMatchObject({ backend: "local", reason: expect.stringMatching(/absent/) });
    expect(chooseBatchBackend("auto", { services: { batch: "disabled" } }).backend).toBe("local");
    expect(chooseBatchBackend("auto", null).backend).toBe("local");
    expect(chooseBatchBackend("local", up).backend).toBe("local");
    expect(chooseBatchBackend("localstack", up).backend).toBe("localstack");
    expect(chooseBatchBackend("localstack", none).backend).toBe("local");
  });

  it("the worker's S3 endpoint: PTYXRF_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; none in AWS", () => {
    expect(workerS3Settings({ AWS_ENDPOINT_URL: "http://ls:4566" })).toMatchObject({ endpoint: "http://ls:4566", forcePathStyle: true });
    expect(workerS3Settings({ AWS_ENDPOINT_URL: "http://ls:4566", AWS_ENDPOINT_URL_S3: "http://s3:1" }).endpoint).toBe("http://s3:1");
    expect(workerS3Settings({ PTYXRF_S3_ENDPOINT: "http://127.0.0.1:5", AWS_ENDPOINT_URL: "http://ls:4566", PTYXRF_S3_CHECKSUMS: "WHEN_REQUIRED" })).toMatchObject({ endpoint: "http://127.0.0.1:5", checksums: "WHEN_REQUIRED" });
    const aws = workerS3Settings({ AWS_REGION: "us-west-2" });
    expect(aws.endpoint).toBeUndefined();
    expect(aws.region).toBe("us-west-2");
  });

  it("the compose file pins a LocalStack image tag and passes LOCALSTACK_AUTH_TOKEN through", () => {
    const compose = fs.readFileSync(path.resolve(import.meta.dirname, "../../../localstack/compose.yaml"), "utf8");
    const image = /image:\s*\$\{LOCALSTACK_IMAGE:-([^}]+)\}/.exec(compose)?.[1];
    expect(image).toMatch(/^localstack\/localstack:\d+\.\d+\.\d+$/);
    expect(compose).toMatch(/LOCALSTACK_AUTH_TOKEN:\s*\$\{LOCALSTACK_AUTH_TOKEN/);
    expect(compose).toMatch(/127\.0\.0\.1:4566:4566/);
    for (const svc of ["s3", "sqs", "sns", "dynamodb", "batch"]) expect(compose).toMatch(new RegExp(`SERVICES:.*\\b${svc}\\b`));
  });

  it("bootstrap creates a versioned scans bucket, the queue with its DLQ and the bucket notification, the table and the topic", async () => {
    const s3 = mockClient(S3Client), sqs = mockClient(SQSClient), sns = mockClient(SNSClient), ddb = mockClient(DynamoDBClient);
    try {
      s3.on(CreateBucketCommand).rejectsOnce(Object.assign(new Error("exists"), { name: "BucketAlreadyOwnedByYou" })).resolves({});
      sqs.on(CreateQueueCommand).callsFake((i: { QueueName: string }) => ({ QueueUrl: `http://ls/000000000000/${i.QueueName}` }));
      sqs.on(GetQueueAttributesCommand).callsFake((i: { QueueUrl: string }) => ({ Attributes: { QueueArn: `arn:aws:sqs:us-east-1:000000000000:${i.QueueUrl.split("/").pop()}` } }));
      ddb.on(CreateTableCommand).rejects(Object.assign(new Error("in use"), { name: "ResourceInUseException" }));
      sns.on(CreateTopicCommand).resolves({ TopicArn: "arn:aws:sns:us-east-1:000000000000:ptyxrf-notifications" });
      const c = resolveLocalStackConfig({});
      const k = localStackClients(c);
      const b = await bootstrapLocalStack(k, c);
      expect(b).toEqual({
        ingestQueueUrl: "http://ls/000000000000/ptyxrf-ingest", ingestQueueArn: "arn:aws:sqs:us-east-1:000000000000:ptyxrf-ingest",
        notificationsQueueUrl: "http://ls/000000000000/ptyxrf-notifications", topicArn: "arn:aws:sns:us-east-1:000000000000:ptyxrf-notifications",
      });
      expect(s3.commandCalls(CreateBucketCommand).map((x) => x.args[0].input.Bucket)).toEqual(["ptyxrf-scans", "ptyxrf-results"]);
      expect(s3.commandCalls(PutBucketVersioningCommand)[0].args[0].input).toEqual({ Bucket: "ptyxrf-scans", VersioningConfiguration: { Status: "Enabled" } });
      const notif = s3.commandCalls(PutBucketNotificationConfigurationCommand)[0].args[0].input;
      expect(notif.NotificationConfiguration!.QueueConfigurations![0]).toMatchObject({ QueueArn: b.ingestQueueArn, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "incoming/" }] } } });
      const redrive = JSON.parse(sqs.commandCalls(SetQueueAttributesCommand)[0].args[0].input.Attributes!.RedrivePolicy!);
      expect(redrive).toEqual({ deadLetterTargetArn: "arn:aws:sqs:us-east-1:000000000000:ptyxrf-ingest-dlq", maxReceiveCount: 5 });
      expect(sns.commandCalls(SubscribeCommand)[0].args[0].input).toMatchObject({ Protocol: "sqs", Endpoint: "arn:aws:sqs:us-east-1:000000000000:ptyxrf-notifications" });
      for (const client of [k.s3, k.sqs, k.sns, k.dynamodb, k.batch]) client.destroy();
    } finally {
      for (const m of [s3, sqs, sns, ddb]) m.restore();
    }
  });

  it("SQS messages become the Lambda's SQS records; SNS envelopes become notifications", () => {
    const body = JSON.stringify({ Records: [{ eventSource: "aws:s3", eventName: "ObjectCreated:Put", s3: { bucket: { name: "ptyxrf-scans" }, object: { key: "incoming/a/x.h5", versionId: "v1", eTag: "e", size: 3 } } }] });
    const rec = toSqsRecord({ MessageId: "m1", ReceiptHandle: "rh", Body: body, Attributes: { ApproximateReceiveCount: "2" } }, "arn:q", "us-east-1");
    expect(rec).toMatchObject({ messageId: "m1", eventSourceARN: "arn:q", attributes: { ApproximateReceiveCount: "2" } });
    expect(uploadsFromMessage(rec.body)[0]).toMatchObject({ bucket: "ptyxrf-scans", key: "incoming/a/x.h5", versionId: "v1" });
    const env = JSON.stringify({ Type: "Notification", Subject: "ptyxrf: finished x.h5", Message: JSON.stringify({ user: "a", event: "succeeded", subject: "ptyxrf: finished x.h5", runId: "r1" }) });
    expect(notificationFromEnvelope(env)).toMatchObject({ user: "a", kind: "succeeded", subject: "ptyxrf: finished x.h5", details: { runId: "r1" } });
    expect(notificationFromEnvelope("not json")).toBeNull();
  });
});

describe("profiles", () => {
  it("local: needs a running stack (stack.json of a live process); aws: needs the buckets", () => {
    const d = path.join(dir, "local");
    expect(() => resolveProfile("local", {}, { dataDir: d })).toThrow(NoLocalStackError);
    fs.mkdirSync(d, { recursive: true });
    const info = { pid: process.pid, endpoint: "http://127.0.0.1:1234", port: 1234, dataDir: d, scansBucket: "ptyxrf-scans", resultsBucket: "ptyxrf-results", startedAt: "", ptyxrf: "0" };
    fs.writeFileSync(stackFile(d), JSON.stringify(info));
    const p = resolveProfile("local", {}, { dataDir: d });
    expect(p.s3).toMatchObject({ endpoint: "http://127.0.0.1:1234", checksums: "WHEN_REQUIRED", credentials: { accessKeyId: "S3RVER" } });
    fs.writeFileSync(stackFile(d), JSON.stringify({ ...info, pid: 2 ** 22 + 12345 })); // no such process
    expect(() => resolveProfile("local", {}, { dataDir: d })).toThrow(NoLocalStackError);
    expect(() => resolveProfile("aws", {})).toThrow(ProfileError);
    const aws = resolveProfile("aws", { PTYXRF_SCANS_BUCKET: "s", PTYXRF_RESULTS_BUCKET: "r", AWS_REGION: "eu-central-1" });
    expect(aws).toMatchObject({ scansBucket: "s", resultsBucket: "r", dataDir: null, s3: { region: "eu-central-1" } });
    expect(aws.s3.endpoint).toBeUndefined();
    expect(resolveProfile("localstack", { AWS_ENDPOINT_URL: "http://ls:4566" }).s3.endpoint).toBe("http://ls:4566");
  });
});

describe("local notifier", () => {
  it("appends JSON lines, reads them back, and follows new ones", async () => {
    const file = path.join(dir, "n", "notifications.jsonl");
    const echoed: NotificationLine[] = [];
    const n = new JsonLinesNotifier(file, "stack", (l) => echoed.push(l));
    const seen: NotificationLine[] = [];
    const stop = followNotifications(file, (l) => seen.push(l), { intervalMs: 10 });
    await n.publish({ user: "a", kind: "submitted", subject: "s1", text: "t", details: { x: 1 } });
    await n.publish({ user: "a", kind: "succeeded", subject: "s2", text: "t", details: {} });
    fs.appendFileSync(file, '{"partial":'); // a line still being written
    await new Promise((r) => setTimeout(r, 50));
    stop();
    expect(readNotifications(file).map((l) => l.subject)).toEqual(["s1", "s2"]);
    expect(seen.map((l) => l.subject)).toEqual(["s1", "s2"]);
    expect(echoed).toHaveLength(2);
    expect(seen[0]).toMatchObject({ from: "stack", user: "a", kind: "submitted", details: { x: 1 } });
  });
});
