/** Job state changes to user messages, and what SnsNotifier sends (SNS mocked). */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryLogger } from "../../../src/pipeline/ingest/log.js";
import { handleJobStateChange, jobNotification, type BatchJobDetail, type BatchJobEvent } from "../../../src/pipeline/notify/batchEvents.js";
import { attributeUser, MemoryNotifier, SnsNotifier, snsSubject } from "../../../src/pipeline/notify/notifier.js";

const params = {
  scanUri: "s3://ptyxrf-scans-1-r/incoming/alice/run-17.h5", scanVersion: "v1",
  resultPrefix: "s3://ptyxrf-results-1-r/results/alice/run-17/0123456789abcdef/", config: "{}", user: "alice",
};
const detail = (over: Partial<BatchJobDetail>): BatchJobDetail => ({
  jobName: "ptyxrf-alice-run-17-0123456789abcdef", jobId: "j-1", status: "SUCCEEDED", parameters: params,
  startedAt: 1_000_000, stoppedAt: 1_000_000 + 754_000, ...over,
});
const event = (d: BatchJobDetail): BatchJobEvent => ({
  version: "0", id: "e", "detail-type": "Batch Job State Change", source: "aws.batch", account: "1", time: "", region: "eu-west-1", resources: [], detail: d,
});

describe("jobNotification", () => {
  it("SUCCEEDED: tells the user where the results are", () => {
    const n = jobNotification(detail({}))!;
    expect(n).toMatchObject({ user: "alice", kind: "succeeded", subject: "ptyxrf: finished run-17.h5" });
    expect(n.text).toContain("finished in 12.6 min");
    expect(n.text).toContain(params.resultPrefix);
    expect(n.details).toMatchObject({ scan: params.scanUri, jobId: "j-1", status: "SUCCEEDED" });
  });

  it("FAILED with the invalid-input exit code: says so and that it was not retried", () => {
    const n = jobNotification(detail({ status: "FAILED", statusReason: "Essential container in task exited", container: { exitCode: 2, logStreamName: "worker/default/abc" }, attempts: [{}] }), "eu-west-1")!;
    expect(n.kind).toBe("failed");
    expect(n.subject).toBe("ptyxrf: failed run-17.h5 (invalid input)");
    expect(n.text).toContain("the worker found the input invalid (not retried)");
    expect(n.text).toContain("exit code 2");
    expect(n.text).toContain("CloudWatch log stream worker/default/abc (region eu-west-1)");
    expect(n.details).toMatchObject({ invalidInput: true, exitCode: 2, attempts: 1 });
  });

  it("FAILED without an exit code (lost host, every attempt used): the reason of the last attempt", () => {
    const n = jobNotification(detail({ status: "FAILED", statusReason: "Host EC2 (instance i-0abc) terminated.", attempts: [{}, {}, {}] }))!;
    expect(n.text).toContain("reason    Host EC2 (instance i-0abc) terminated.");
    expect(n.text).toContain("exit code none (the container did not finish: host or Spot instance lost?)");
    expect(n.text).toContain("attempts  3");
  });

  it("other states are not notified; a job without our parameters goes to _unknown", () => {
    expect(jobNotification(detail({ status: "RUNNING" }))).toBeNull();
    expect(jobNotification(detail({ parameters: {} }))!.user).toBe("_unknown");
    expect(jobNotification(detail({ parameters: { ...params, user: "bad user!" } }))!.user).toBe("_unknown");
  });

  it("handleJobStateChange publishes finished jobs only", async () => {
    const notifier = new MemoryNotifier();
    const log = new MemoryLogger();
    expect(await handleJobStateChange(event(detail({ status: "RUNNABLE" })), notifier, log)).toBeNull();
    expect(await handleJobStateChange(event(detail({})), notifier, log)).not.toBeNull();
    expect(notifier.sent.map((s) => s.kind)).toEqual(["succeeded"]);
    expect(log.messages()).toEqual(["ignored", "notified"]);
  });
});

describe("SnsNotifier", () => {
  const sns = mockClient(SNSClient);
  afterEach(() => sns.reset());

  it("publishes text for email and JSON for machines, with user and event attributes", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const n = new SnsNotifier(new SNSClient({ region: "us-east-1" }), "arn:aws:sns:us-east-1:1:t");
    const id = await n.publish({ user: "alice", kind: "rejected", subject: "ptyxrf: rejected x.h5 (2 problems)", text: "two problems", details: { problems: 2 } });
    expect(id).toBe("m-1");
    const input = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(input).toMatchObject({
      TopicArn: "arn:aws:sns:us-east-1:1:t", Subject: "ptyxrf: rejected x.h5 (2 problems)", MessageStructure: "json",
      MessageAttributes: { user: { DataType: "String", StringValue: "alice" }, event: { DataType: "String", StringValue: "rejected" } },
    });
    const m = JSON.parse(input.Message!);
    expect(m.default).toBe("two problems");
    expect(m.email).toBe("two problems");
    expect(JSON.parse(m.sqs)).toEqual({ user: "alice", event: "rejected", subject: "ptyxrf: rejected x.h5 (2 problems)", problems: 2 });
  });

  it("subjects are one ASCII line of at most 100 characters; odd user names become _unknown", () => {
    expect(snsSubject("a\nb\tc  é")).toBe("a b c  ?");
    expect(snsSubject("x".repeat(150))).toHaveLength(100);
    expect(attributeUser("alice.b-1_x")).toBe("alice.b-1_x");
    expect(attributeUser("")).toBe("_unknown");
    expect(attributeUser("a/b")).toBe("_unknown");
  });
});
