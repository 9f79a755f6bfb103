/**
 * A sweep on AWS Batch, without AWS: the task list written to S3 (s3rver on 127.0.0.1), one array job of the
 * right size and one aggregation job depending on it (SubmitJob inputs, Batch mocked); a child picks its task
 * from AWS_BATCH_JOB_ARRAY_INDEX and records a failure with exit 0; the child's decision on each attempt;
 * the worker's sweep arguments.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { BatchClient, SubmitJobCommand } from "@aws-sdk/client-batch";
import { mockClient } from "aws-sdk-client-mock";
import { startLoopbackS3, type LoopbackS3 } from "../loopbackS3.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv } from "../../../src/pipeline/local/runner.js";
import { LOCAL_CREDENTIALS, S3Server } from "../../../src/pipeline/local/s3server.js";
import { sweepChildDecision, taskIndexFrom } from "../../../src/pipeline/sweep/child.js";
import { planSweep, stageSweep } from "../../../src/pipeline/sweep/plan.js";
import { parseSweepSpec } from "../../../src/pipeline/sweep/spec.js";
import { submitSweepJobs } from "../../../src/pipeline/sweep/submit.js";
import { batchSubmitterFor } from "../../../src/pipeline/sweep/submitBatch.js";
import { locationIn, readTaskList, TASK_FAILURE, writeTaskList, type TaskList } from "../../../src/pipeline/sweep/tasks.js";
import { JobInputError, parseWorkerMode } from "../../../src/pipeline/worker/job.js";
import type { S3Transfer } from "../../../src/pipeline/worker/transfer.js";
import { resolveConfig } from "../../../src/solver/config.js";
import { packageRoot } from "../../../src/version.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const SCANS = "ptyxrf-scans", RESULTS = "ptyxrf-results";
const QUEUE = "arn:aws:batch:eu-west-1:123456789012:job-queue/ptyxrf";
const JOBDEF = "arn:aws:batch:eu-west-1:123456789012:job-definition/ptyxrf-worker:3";
let dir: string;
let server: S3Server;
let transfer: S3Transfer;
let loopback: LoopbackS3;
const batch = mockClient(BatchClient);

beforeAll(async () => {
  loopback = await startLoopbackS3("sweep-batch", [SCANS, RESULTS]);
  ({ dir, server, transfer } = loopback);
  for (const key of ["incoming/alice/2026/a.h5", "incoming/alice/2026/b.h5", "incoming/alice/2026/c.h5", "incoming/alice/2026/notes.txt", "incoming/alice/2026/old/d.h5"]) {
    await transfer.putBytes({ bucket: SCANS, key }, `bytes of ${key}`);
  }
}, 60_000);

afterEach(() => batch.reset());
afterAll(async () => {
  batch.restore();
  await loopback?.close();
});

describe("sweep on AWS Batch", () => {
  it("writes tasks.json, then submits one array job (one child per task) and one aggregation job depending on it", async () => {
    let n = 0;
    batch.on(SubmitJobCommand).callsFake((input: { jobName: string }) => ({ jobId: `job-${++n}`, jobName: input.jobName }));
    const spec = parseSweepSpec(`
name: alpha
scans: [{ prefix: "s3://${SCANS}/incoming/alice/2026/", pattern: "*.h5" }]
grid: { weights.alpha: [0.5, 1, 1.5] }
base: { iterations: 50 }`, "alpha");
    const plan = await planSweep(spec, { raw: true }, dir, transfer);
    expect(plan.tasks.map((t) => `${t.scan.label}:${t.params["weights.alpha"]}`)).toEqual(["a:0.5", "a:1", "a:1.5", "b:0.5", "b:1", "b:1.5", "c:0.5", "c:1", "c:1.5"]);
    const { list, tasksUri } = await stageSweep(plan, { transfer, resultsBucket: RESULTS, user: "alice", profile: "aws", sweepId: "20261121-101500-beef" });
    expect((await readTaskList(transfer, tasksUri)).tasks).toHaveLength(9);
    expect(list.tasks[3]).toMatchObject({ scan: `s3://${SCANS}/incoming/alice/2026/b.h5`, scanUri: `s3://${SCANS}/incoming/alice/2026/b.h5`, out: `${list.prefix}tasks/t003/` });

    const submitter = batchSubmitterFor({}, { PTYXRF_JOB_QUEUE: QUEUE, PTYXRF_JOB_DEFINITION: JOBDEF, AWS_REGION: "eu-west-1" }, new BatchClient({ region: "eu-west-1" }));
    const s = await submitSweepJobs(submitter, list, tasksUri);
    expect([s.arrayJob.jobId, s.aggregateJob.jobId, s.size]).toEqual(["job-1", "job-2", 9]);
    const calls = batch.commandCalls(SubmitJobCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    const parameters = { scanUri: tasksUri, scanVersion: "none", resultPrefix: list.prefix, config: "{}", user: "alice" };
    expect(calls[0]).toEqual({
      jobName: "ptyxrf-alice-sweep-alpha-20261121-101500-beef", jobQueue: QUEUE, jobDefinition: JOBDEF, parameters,
      arrayProperties: { size: 9 },
      containerOverrides: { command: ["node", "dist/container/worker.js", "--task-list", tasksUri] },
    });
    expect(calls[1]).toEqual({
      jobName: "ptyxrf-alice-sweep-alpha-aggregate-20261121-101500-beef", jobQueue: QUEUE, jobDefinition: JOBDEF, parameters,
      dependsOn: [{ jobId: "job-1" }],
      containerOverrides: { command: ["node", "dist/container/worker.js", "--aggregate", list.prefix] },
    });
  });

  it("a single task is a plain job with --task-index 0 (Batch arrays have at least 2 children); missing settings are named", async () => {
    batch.on(SubmitJobCommand).resolves({ jobId: "j", jobName: "n" });
    const list = { kind: "ptyxrf-task-list", version: 1, purpose: "sweep", name: "one", sweepId: "x", createdAt: "", user: "u", profile: "aws", prefix: `s3://${RESULTS}/results/u/sweeps/one-x/`, rankBy: null, spec: {}, tasks: [{}] } as unknown as TaskList;
    await submitSweepJobs(batchSubmitterFor({ jobQueue: QUEUE, jobDefinition: JOBDEF }, {}, new BatchClient({ region: "eu-west-1" })), list, "s3://r/t.json");
    const first = batch.commandCalls(SubmitJobCommand)[0].args[0].input;
    expect(first.arrayProperties).toBeUndefined();
    expect(first.containerOverrides!.command).toEqual(["node", "dist/container/worker.js", "--task-list", "s3://r/t.json", "--task-index", "0"]);
    expect(() => batchSubmitterFor({}, {})).toThrow(/the aws profile needs the job queue \(--job-queue or PTYXRF_JOB_QUEUE: the stack's JobQueueArn output\) and the job definition/);
  });
});

describe("a sweep child", () => {
  function runChild(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ["dist/container/worker.js", ...args], {
        cwd: packageRoot(),
        env: {
          ...cleanEnv(), AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          PTYXRF_S3_ENDPOINT: server.endpoint, PTYXRF_S3_CHECKSUMS: "WHEN_REQUIRED", PTYXRF_SCRATCH: path.join(dir, "scratch"), PTYXRF_S3_ATTEMPTS: "2",
          AWS_BATCH_JOB_ID: "arr-1:1", AWS_BATCH_JOB_ATTEMPT: "1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d));
      child.stderr.on("data", (d: Buffer) => (out += d));
      child.on("close", (code) => resolve({ code, out }));
    });
  }

  it("picks its task by AWS_BATCH_JOB_ARRAY_INDEX; a task that fails for good is recorded and the child exits 0", async () => {
    const prefix = `s3://${RESULTS}/results/u/sweeps/child-1/`;
    const bad = await transfer.putBytes({ bucket: RESULTS, key: "results/u/sweeps/child-1/inputs/bad.h5" }, "garbage, not HDF5");
    const config = resolveConfig({ iterations: 3 });
    const task = (index: number, key: string) => ({
      index, id: `t00${index}`, scan: key, scanLabel: key, scanUri: `s3://${RESULTS}/${key}`, scanVersion: "etag:0", truthUri: null,
      params: {}, config, out: `${prefix}tasks/t00${index}/`, user: "u",
    });
    const list: TaskList = {
      kind: "ptyxrf-task-list", version: 1, purpose: "sweep", name: "child", sweepId: "1", createdAt: new Date().toISOString(), user: "u", profile: "local",
      prefix, rankBy: null, spec: {}, tasks: [task(0, "results/u/sweeps/child-1/inputs/absent.h5"), task(1, "results/u/sweeps/child-1/inputs/bad.h5")],
    };
    list.tasks[1].scanVersion = `etag:${bad.etag}`;
    const uri = await writeTaskList(transfer, list);

    const r = await runChild(["--task-list", uri], { AWS_BATCH_JOB_ARRAY_INDEX: "1", PTYXRF_JOB_ATTEMPTS: "3" });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`"message":"sweep task","sweep":"child-1","task":"t001","index":1`);
    const failure = await transfer.getJson<Record<string, unknown>>(locationIn(list.tasks[1].out, TASK_FAILURE));
    expect(failure).toMatchObject({ kind: "ptyxrf-sweep-task-failure", id: "t001", index: 1, exitCode: 2, reason: "invalid-input", attempt: 1, attempts: 3, jobId: "arr-1:1" });
    expect((failure!.problems as string[]).join(" ")).toMatch(/HDF5/);
    expect(await transfer.exists(locationIn(list.tasks[0].out, TASK_FAILURE))).toBe(false); // task 0 was not touched

    // the same list through PTYXRF_TASK_LIST, index 0: a scan that no longer exists is a recorded failure too
    const r0 = await runChild([], { PTYXRF_TASK_LIST: uri, AWS_BATCH_JOB_ARRAY_INDEX: "0" });
    expect(r0.code).toBe(0);
    expect(await transfer.getJson(locationIn(list.tasks[0].out, TASK_FAILURE))).toMatchObject({ id: "t000", reason: "invalid-input" });

    // no index, or one outside the list: invalid input (exit 2, nothing to record)
    expect((await runChild(["--task-list", uri], {})).code).toBe(2);
    expect((await runChild(["--task-list", uri, "--task-index", "2"], {})).code).toBe(2);
    // an aggregation of a folder without a task list: invalid input
    expect((await runChild(["--aggregate", `s3://${RESULTS}/results/u/sweeps/none/`], {})).code).toBe(2);
  });

  it("decides per attempt: transient failures retry until the last attempt, then are recorded; permanent ones at once", () => {
    expect(sweepChildDecision(0, 1, 3)).toBe("done");
    expect(sweepChildDecision(75, 1, 3)).toBe("retry");
    expect(sweepChildDecision(75, 2, 3)).toBe("retry");
    expect(sweepChildDecision(75, 3, 3)).toBe("record");
    expect(sweepChildDecision(2, 1, 3)).toBe("record");
    expect(sweepChildDecision(1, 1, 3)).toBe("record");
    expect(taskIndexFrom(undefined, { AWS_BATCH_JOB_ARRAY_INDEX: "4" }, 5)).toEqual({ index: 4 });
    expect(taskIndexFrom("1", { AWS_BATCH_JOB_ARRAY_INDEX: "4" }, 5)).toEqual({ index: 1 });
    expect(taskIndexFrom(undefined, { AWS_BATCH_JOB_ARRAY_INDEX: "5" }, 5)).toEqual({ problem: "AWS_BATCH_JOB_ARRAY_INDEX=5 is not a task of this list (0..4)" });
    expect(taskIndexFrom(undefined, {}, 5)).toMatchObject({ problem: expect.stringMatching(/no task index/) });
  });

  it("the worker's arguments: a job, a task of a list, or an aggregation; mixing them is invalid input", () => {
    expect(parseWorkerMode(["--scan", "s3://b/k.h5"], {})).toEqual({ kind: "job" });
    expect(parseWorkerMode(["--scan", "s3://b/k.h5"], { PTYXRF_TASK_LIST: "s3://b/t.json" })).toEqual({ kind: "job" });
    expect(parseWorkerMode([], { PTYXRF_TASK_LIST: "s3://b/t.json" })).toEqual({ kind: "task", taskList: "s3://b/t.json" });
    expect(parseWorkerMode(["--task-list", "s3://b/t.json", "--task-index", "3"], {})).toEqual({ kind: "task", taskList: "s3://b/t.json", taskIndex: "3" });
    expect(parseWorkerMode(["--aggregate", "s3://b/results/u/sweeps/x/"], {})).toEqual({ kind: "aggregate", prefix: "s3://b/results/u/sweeps/x/" });
    expect(() => parseWorkerMode(["--task-list", "s3://b/t.json", "--scan", "s3://b/k.h5"], {})).toThrow(JobInputError);
    expect(() => parseWorkerMode(["--aggregate", "s3://b/no-slash"], {})).toThrow(/ending in \//);
  });
});
