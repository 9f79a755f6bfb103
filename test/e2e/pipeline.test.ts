/**
 * The whole pipeline end to end on the local stack: real S3 HTTP on 127.0.0.1 (s3rver), the upload handler
 * on the server's own upload events, file idempotency records, the worker (dist/container/worker.js) in
 * child processes under the local job runner with Batch's environment, results and notifications.
 *
 *   upload -> reconstructed: results with the manifest last, every file matching it; notifications
 *   a bad file -> rejection report + notification; the scan unchanged; no job
 *   the same upload event three times -> one job, one run
 *   a worker killed with SIGTERM mid-run -> final checkpoint, exit 75, retried, resumed -> the same result
 *   the S3 server down for 3 s while the results are uploaded -> retried with backoff, the run completes
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { S3EventRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceClient, type RunStatus } from "../../src/pipeline/local/client.js";
import { readNotifications, type NotificationLine } from "../../src/pipeline/local/notifications.js";
import { resolveProfile } from "../../src/pipeline/local/profile.js";
import { startLocalStack, type LocalStack } from "../../src/pipeline/local/stack.js";
import { followRun } from "../../src/pipeline/local/follow.js";
import { makeS3Client } from "../../src/scan/s3Client.js";
import { reader, writer } from "../../src/scan/h5runtime.js";
import { writeScan, writeTruth } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { rewriteH5 } from "../scan/fixtures.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const ITERATIONS = 150;
let dir: string;
let stack: LocalStack;
let client: ServiceClient;
let s3: S3Client;
let scan: string, truth: string, bad: string;
const events: S3EventRecord[] = [];
const output = new Map<string, string[]>();
const outputListeners = new Set<(jobId: string, line: string) => void>();

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-e2e-"));
  await Promise.all([reader(), writer()]);
  const sim = simulate({ preset: "small", seed: 1 });
  scan = path.join(dir, "scan.h5");
  truth = path.join(dir, "truth.h5");
  bad = path.join(dir, "bad.h5");
  await writeScan(scan, sim.header, sim.frames, { compression: "none" });
  await writeTruth(truth, sim.truth);
  await rewriteH5(scan, bad, { drop: ["/xrf/positions"] });
  stack = await startLocalStack({
    dataDir: path.join(dir, "local"),
    workerEnv: { PTYXRF_CHECKPOINT_EVERY: "10", PTYXRF_PROGRESS_SECONDS: "0.2" },
    onJobOutput: (jobId, line) => {
      let lines = output.get(jobId);
      if (!lines) output.set(jobId, (lines = []));
      lines.push(line);
      for (const l of outputListeners) l(jobId, line);
    },
    redeliveryMs: 200,
  });
  stack.server.onEvent((r) => events.push(r));
  client = new ServiceClient(resolveProfile("local", {}, { dataDir: stack.dataDir }));
  s3 = makeS3Client(stack.server.settings);
}, 60_000);

afterAll(async () => {
  client?.close();
  s3?.destroy();
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function sha(data: Uint8Array): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

async function objectBytes(bucket: string, key: string): Promise<Uint8Array> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToByteArray();
}

async function keysUnder(bucket: string, prefix: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

function notes(): NotificationLine[] {
  return readNotifications(stack.notificationsFile);
}

function logOf(jobId: string): { message: string; [k: string]: unknown }[] {
  return (output.get(jobId) ?? []).flatMap((l) => {
    try {
      return [JSON.parse(l) as { message: string }];
    } catch {
      return [];
    }
  });
}

async function submitAndWait(name: string, file = scan, withTruth = true): Promise<{ end: RunStatus; runId: string; prefix: string }> {
  const sub = await client.submit({ file, user: "alice", name, config: { iterations: ITERATIONS }, ...(withTruth ? { truthFile: truth } : {}) });
  const runId = await client.runIdOf(sub, 20_000);
  const prefix = client.resultPrefixFor(sub, runId);
  const end = await followRun(client, prefix, { intervalMs: 100, timeoutMs: 60_000 });
  return { end, runId, prefix };
}

let baseline: RunStatus;

describe("the local pipeline end to end", () => {
  it("upload -> validated -> reconstructed: results with the manifest last, files matching it, notifications", async () => {
    const { end, runId, prefix } = await submitAndWait("run-a");
    expect(end.state).toBe("succeeded");
    baseline = end;
    const m = end.metrics!;
    expect(m.iterations).toBe(ITERATIONS);
    expect(m.history).toHaveLength(ITERATIONS);
    expect(m.final.object_rel_error!).toBeLessThan(0.03); // the small preset, errors against the truth
    expect(m.truth).toBe("s3://ptyxrf-scans/incoming/alice/run-a.truth");
    const keys = await keysUnder(stack.resultsBucket, prefix);
    expect(keys.map((k) => k.slice(prefix.length))).toEqual(expect.arrayContaining(["result.h5", "metrics.json", "phase.png", "amplitude.png", "element_Fe.png", "overlay_Zn.png", "manifest.json", "progress.json"]));
    expect(keys.some((k) => k.includes("_checkpoint/"))).toBe(false); // deleted at the end

    // manifest.json came last: every other output is older or as old
    const { objects } = await client.transfer.list(stack.resultsBucket, prefix);
    const manifestAt = objects.find((o) => o.key.endsWith("manifest.json"))!.lastModified!.getTime();
    for (const o of objects) if (!o.key.endsWith("progress.json")) expect(o.lastModified!.getTime()).toBeLessThanOrEqual(manifestAt);
    const fetched = await client.fetch(prefix, path.join(dir, "fetched-a"));
    expect(fetched.verified).toBe(true);

    const mine = notes().filter((n) => (n.details as { scan?: string }).scan === "s3://ptyxrf-scans/incoming/alice/run-a.h5");
    expect(mine.map((n) => n.kind)).toEqual(["submitted", "succeeded"]);
    const done = mine[1];
    expect(done.user).toBe("alice");
    expect(done.text).toMatch(/object error\s+0\.0\d+ \(cPCC 0\.99\d+\), from 0\.\d+ after iteration 1/);
    expect(done.text).toMatch(/Fe map error/);
    expect(done.text).toContain(`npx ptyxrf fetch ${runId}`);
    const summary = (done.details as { summary: { iterations: number; engine: string; device: string; final: { loss_total: number }; wall_s: number } }).summary;
    expect(summary).toMatchObject({ iterations: ITERATIONS, engine: "cpu" });
    expect(summary.final.loss_total).toBeGreaterThan(0);
    expect((done.details as { files: { name: string; uri: string }[] }).files.map((f) => f.name)).toContain("result.h5");
    const job = await stack.runner.waitFor(end.job!.jobId, 20_000); // the manifest comes before the worker exits
    expect(job.status).toBe("SUCCEEDED");
    expect(job.attempts.map((a) => a.exitCode)).toEqual([0]);
  });

  it("a bad file -> rejection report and notification naming the problem; the scan unchanged; no job", async () => {
    const before = fs.readFileSync(bad);
    const sub = await client.submit({ file: bad, user: "alice", name: "broken" });
    const runId = await client.runIdOf(sub, 20_000);
    const end = await followRun(client, client.resultPrefixFor(sub, runId), { intervalMs: 100, timeoutMs: 30_000 });
    expect(end.state).toBe("rejected");
    expect(end.rejection!.problems.map((p) => p.path)).toContain("/xrf/positions");
    expect(sha(await objectBytes(stack.scansBucket, sub.scanKey))).toBe(sha(before));
    const rejected = notes().filter((n) => n.kind === "rejected" && (n.details as { scan?: string }).scan === sub.scanUri);
    expect(rejected).toHaveLength(1);
    expect(rejected[0].text).toContain("/xrf/positions");
    expect(stack.runner.list().filter((j) => j.parameters.scanUri === sub.scanUri)).toHaveLength(0);
  });

  it("the same upload event delivered three times -> one job, one run", async () => {
    const before = events.length;
    const sub = await client.submit({ file: scan, user: "bob", name: "thrice", config: { iterations: 20 } });
    const runId = await client.runIdOf(sub, 20_000);
    const record = events.slice(before).find((e) => e.s3.object.key === sub.scanKey)!;
    expect(record).toBeDefined();
    stack.deliver(record);
    stack.deliver(record);
    await stack.settled(60_000);
    const jobs = stack.runner.list().filter((j) => j.parameters.scanUri === sub.scanUri);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].status).toBe("SUCCEEDED");
    const folders = new Set((await keysUnder(stack.resultsBucket, "results/bob/thrice/")).map((k) => k.split("/")[3]));
    expect([...folders]).toEqual([runId]);
    const submitted = notes().filter((n) => n.kind === "submitted" && (n.details as { scan?: string }).scan === sub.scanUri);
    expect(submitted).toHaveLength(1);
    const log = fs.readFileSync(path.join(stack.dataDir, "stack.log"), "utf8").split("\n").filter((l) => l.includes('"duplicate"') && l.includes(sub.scanKey));
    expect(log).toHaveLength(2);
  });

  it("a worker killed with SIGTERM mid-run checkpoints, exits 75, is retried and resumes: the same result as uninterrupted", async () => {
    let killed: { jobId: string; at: number } | null = null;
    const listener = (jobId: string, line: string) => {
      if (killed || !line.includes('"checkpoint saved"')) return;
      const it = (JSON.parse(line) as { iteration: number }).iteration;
      if (it >= 30) {
        killed = { jobId, at: it };
        stack.runner.kill(jobId, "SIGTERM");
      }
    };
    outputListeners.add(listener);
    const { end } = await submitAndWait("run-b");
    outputListeners.delete(listener);
    expect(killed).not.toBeNull();
    expect(end.state).toBe("succeeded");
    const job = await stack.runner.waitFor(end.job!.jobId, 20_000);
    expect(job.attempts.map((a) => a.exitCode)).toEqual([75, 0]);
    const log = logOf(job.jobId);
    const interrupted = log.find((l) => l.message === "interrupted") as { checkpoint: number } | undefined;
    expect(interrupted!.checkpoint).toBeGreaterThan(killed!.at);
    const resumed = log.find((l) => l.message === "resuming from checkpoint") as { iteration: number } | undefined;
    expect(resumed!.iteration).toBe(interrupted!.checkpoint);
    expect(end.progress!.resumedFrom).toBe(interrupted!.checkpoint);
    expect(end.metrics!.history).toHaveLength(ITERATIONS);

    // no worse than the uninterrupted run: in fact bit-identical (same scan, config and thread count)
    const a = baseline.metrics!.final, b = end.metrics!.final;
    expect(b.object_rel_error!).toBeLessThanOrEqual(a.object_rel_error!);
    expect(b).toEqual(a);
    const done = notes().find((n) => n.kind === "succeeded" && (n.details as { resultPrefix?: string }).resultPrefix === end.resultUri)!;
    expect(done.text).toMatch(/resumed\s+from the checkpoint at iteration \d+ \(attempt 2\)/);
  });

  it("the S3 server killed for 3 s while the results are uploaded -> retried with backoff, the run completes", async () => {
    let outage: Promise<void> | null = null;
    const listener = (_jobId: string, line: string) => {
      if (outage || !line.includes('"solved"')) return;
      outage = (async () => {
        await stack.server.stop({ crash: true }); // killed: connections reset, then refused
        await new Promise((r) => setTimeout(r, 3000));
        await stack.server.start();
      })();
    };
    outputListeners.add(listener);
    const { end } = await submitAndWait("run-c");
    outputListeners.delete(listener);
    expect(outage).not.toBeNull();
    await outage;
    expect(end.state).toBe("succeeded");
    const job = await stack.runner.waitFor(end.job!.jobId, 20_000);
    expect(job.attempts.map((a) => a.exitCode)).toEqual([0]); // the worker rode it out: no job retry
    const retries = logOf(job.jobId).filter((l) => l.message === "S3 request failed, retrying") as unknown as { what: string; delayMs: number }[];
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.some((r) => /^(PUT|HEAD|GET|CreateMultipartUpload) s3:\/\/ptyxrf-results\/results\/alice\/run-c\//.test(r.what))).toBe(true);
    const fetched = await client.fetch(end.prefix, path.join(dir, "fetched-c"));
    expect(fetched.verified).toBe(true);
    expect(end.metrics!.final).toEqual(baseline.metrics!.final);
  });
});
