/**
 * The deployable artifact: the ingest Lambda bundle that `cdk synth` builds (infra/bundle.ts), run as Lambda
 * runs it, in a fresh Node process: the bundled handler, its read worker beside it, h5wasm and its filter
 * plugins from the bundle's node_modules. S3 is s3rver; DynamoDB, Batch and SNS a fake on 127.0.0.1.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BUNDLES, bundle } from "../../infra/bundle.js";
import { ENV } from "../../src/pipeline/ingest/env.js";
import { writeValidScan } from "../scan/fixtures.js";
import { getJson, RESULTS, SCANS, sqsEvent, sqsRecord, startEnv, upload, type Env } from "../pipeline/ingest/helpers.js";
import { startFakeAws, type FakeAws } from "./fakeAws.js";

let env: Env;
let aws: FakeAws;
let out: string;

beforeAll(async () => {
  env = await startEnv("ptyxrf-bundle-");
  aws = await startFakeAws();
  out = path.join(env.dir, "bundle");
  bundle(BUNDLES.ingest, out);
});
afterAll(async () => {
  await aws?.close();
  await env?.close();
});

it("the ingest bundle holds the handler, the read worker and the packages that stay files", () => {
  const files = fs.readdirSync(out).sort();
  expect(files).toEqual(["ingest.js", "ingest.js.map", "node_modules", "package.json", "s3ReadWorker.js", "s3ReadWorker.js.map"]);
  expect(JSON.parse(fs.readFileSync(path.join(out, "package.json"), "utf8")).type).toBe("module");
  expect(fs.readdirSync(path.join(out, "node_modules")).sort()).toEqual(["h5wasm", "h5wasm-plugins"]);
  expect(fs.existsSync(path.join(out, "node_modules/h5wasm-plugins/plugins/libH5Zbshuf.so"))).toBe(true);
});

it("runs in a fresh process as Lambda runs it: submits a valid upload, rejects a bad one", async () => {
  const scan = path.join(env.dir, "scan.h5");
  await writeValidScan(scan, { compression: "bitshuffle-lz4" });
  const good = await upload(env, "incoming/alice/good.h5", fs.readFileSync(scan));
  const bad = await upload(env, "incoming/alice/bad.h5", "not hdf5 at all");
  const event = sqsEvent(sqsRecord([good], "msg-good"), sqsRecord([bad], "msg-bad"));
  const runner = path.join(env.dir, "invoke.mjs");
  fs.writeFileSync(runner, [
    `const { handler } = await import(${JSON.stringify(path.join(out, "ingest.js"))});`,
    `const event = JSON.parse(process.argv[2]);`,
    `const res = await handler(event, { awsRequestId: "r", getRemainingTimeInMillis: () => 300000 });`,
    `process.stdout.write("RESULT " + JSON.stringify(res) + "\\n");`,
  ].join("\n"));
  // Asynchronously: the fake AWS services answer from this process's event loop.
  const child = spawn(process.execPath, [runner, JSON.stringify(event)], {
    env: {
      PATH: process.env.PATH,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_ENDPOINT_URL_DYNAMODB: aws.endpoint,
      AWS_ENDPOINT_URL_BATCH: aws.endpoint,
      AWS_ENDPOINT_URL_SNS: aws.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      [ENV.s3Endpoint]: env.s3.endpoint,
      [ENV.s3Checksums]: "WHEN_REQUIRED",
      [ENV.scansBucket]: SCANS,
      [ENV.resultsBucket]: RESULTS,
      [ENV.jobQueue]: "arn:aws:batch:us-east-1:123456789012:job-queue/q",
      [ENV.jobDefinition]: "arn:aws:batch:us-east-1:123456789012:job-definition/w:1",
      [ENV.topicArn]: "arn:aws:sns:us-east-1:123456789012:t",
      [ENV.uploadsTable]: "uploads",
    },
  });
  const r = { stdout: "", stderr: "" };
  child.stdout.on("data", (d: Buffer) => (r.stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (r.stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  await new Promise((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  expect(line, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBeDefined();
  expect(JSON.parse(line!.slice(7))).toEqual({ batchItemFailures: [] });
  expect(aws.submits).toHaveLength(1);
  expect(aws.submits[0]).toMatchObject({ jobQueue: "arn:aws:batch:us-east-1:123456789012:job-queue/q", parameters: { scanUri: `s3://${SCANS}/incoming/alice/good.h5`, user: "alice" } });
  // Query-protocol attributes: MessageAttributes.entry.N.Name / .Value.StringValue.
  const userOf = (p: Record<string, string>) => {
    const n = [1, 2].find((i) => p[`MessageAttributes.entry.${i}.Name`] === "user");
    return n ? p[`MessageAttributes.entry.${n}.Value.StringValue`] : undefined;
  };
  expect(aws.publishes.map(userOf)).toEqual(["alice", "alice"]);
  const kinds = aws.publishes.map((p) => JSON.parse(JSON.parse(p.Message).sqs).event).sort();
  expect(kinds).toEqual(["rejected", "submitted"]);
  const records = [...aws.items.values()].map((i) => i.status.S).sort();
  expect(records).toEqual(["rejected", "submitted"]);
  const rejected = [...aws.items.values()].find((i) => i.status.S === "rejected")!;
  const report = await getJson<{ problems: { code: string }[] }>(env, RESULTS, `${rejected.resultPrefix.S}rejection.json`);
  expect(report.problems.map((p) => p.code)).toEqual(["not-hdf5"]);
  // Structured log lines, one JSON object each.
  expect(r.stdout).toContain('"message":"submitted"');
});
