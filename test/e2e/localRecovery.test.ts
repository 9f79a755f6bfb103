/**
 * The local profile keeps every upload, like S3 -> SQS does (docs/local.md, "What survives a stop"), on
 * 127.0.0.1 with real workers:
 *
 *   uploads the stack never handled (its queue lives in memory) are delivered at the next start, exactly
 *   once: not those already handled, not sidecars or other files; a claim a killed stack left half done is
 *   recovered; a third start delivers nothing;
 *   keys with "+", "%", spaces and unicode go through the event path and the rescan path exactly;
 *   a traversal key is refused by the server and never reaches the upload handler;
 *   `ptyxrf local up` stopped (SIGINT) right after uploads and started again: every upload handled once;
 *   `ptyxrf local up` whose S3 server is killed: says so, exits 1, leaves no stack.json behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadId, versionKey } from "../../src/pipeline/ingest/ingest.js";
import { localPaths, runningStack, stackFile, type StackInfo } from "../../src/pipeline/local/layout.js";
import { readNotifications } from "../../src/pipeline/local/notifications.js";
import { listJobs } from "../../src/pipeline/local/runner.js";
import { S3Server, s3SettingsFor } from "../../src/pipeline/local/s3server.js";
import { startLocalStack, type LocalStack } from "../../src/pipeline/local/stack.js";
import { FileIdempotencyStore, type UploadRecord } from "../../src/pipeline/storage/idempotency.js";
import { makeS3Client } from "../../src/scan/s3Client.js";
import { reader, writer } from "../../src/scan/h5runtime.js";
import { writeScan } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { BIN } from "../cli/run.js";
import { rewriteH5 } from "../scan/fixtures.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const SCANS = "ptyxrf-scans", RESULTS = "ptyxrf-results";
/** Two iterations: the jobs only need to run, not to converge. */
const TINY = { "ptyxrf-config": JSON.stringify({ iterations: 2 }) };
let dir: string;
let valid: Buffer, bad: Buffer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-recovery-"));
  await Promise.all([reader(), writer()]);
  const sim = simulate({ preset: "small", seed: 7 });
  const scan = path.join(dir, "scan.h5");
  await writeScan(scan, sim.header, sim.frames, { compression: "none" });
  await rewriteH5(scan, path.join(dir, "bad.h5"), { drop: ["/xrf/positions"] });
  valid = fs.readFileSync(scan);
  bad = fs.readFileSync(path.join(dir, "bad.h5"));
}, 60_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function put(s3: S3Client, key: string, body: Buffer | string, metadata?: Record<string, string>): Promise<string> {
  const r = await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: key, Body: body, ...(metadata ? { Metadata: metadata } : {}) }));
  return r.ETag!.replace(/"/g, "");
}

function records(dataDir: string, key: string): UploadRecord[] {
  return new FileIdempotencyStore(localPaths(dataDir).uploads).list().filter((r) => r.key === key);
}

/** Each key was handled exactly once: one terminal record, one notification, one job when valid (SUCCEEDED, manifest written). */
async function expectHandledOnce(dataDir: string, s3: S3Client, key: string, outcome: "submitted" | "rejected"): Promise<void> {
  const recs = records(dataDir, key);
  expect(recs.map((r) => r.status), key).toEqual([outcome]);
  const notes = readNotifications(localPaths(dataDir).notifications).filter((n) => (n.details as { scan?: string }).scan === `s3://${SCANS}/${key}`);
  expect(notes.filter((n) => n.kind === "submitted" || n.kind === "rejected").map((n) => n.kind), key).toEqual([outcome]);
  const jobs = listJobs(localPaths(dataDir).jobs).filter((j) => j.parameters.scanUri === `s3://${SCANS}/${key}`);
  if (outcome === "rejected") {
    expect(jobs, key).toHaveLength(0);
    const report = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: RESULTS, Key: `${recs[0].resultPrefix}rejection.json` }))).Body!.transformToString()) as { scan: { key: string } };
    expect(report.scan.key).toBe(key);
  } else {
    expect(jobs.map((j) => j.status), key).toEqual(["SUCCEEDED"]);
    await s3.send(new GetObjectCommand({ Bucket: RESULTS, Key: `${recs[0].resultPrefix}manifest.json` }));
  }
}

function logLines(dataDir: string): { message: string; [k: string]: unknown }[] {
  return fs.readFileSync(localPaths(dataDir).log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { message: string });
}

describe("the local stack keeps every upload", () => {
  it("uploads never handled are delivered at the next start, exactly once; odd keys round-trip; traversal keys never get in", async () => {
    const d = path.join(dir, "stack");
    // 1. a stack handles one upload, and stops
    let stack: LocalStack = await startLocalStack({ dataDir: d, redeliveryMs: 200 });
    expect(stack.rescanned).toEqual({ listed: 0, delivered: [], unfinished: [], truncated: false });
    let s3 = makeS3Client(stack.server.settings);
    const first = "incoming/alice/first.h5";
    await put(s3, first, valid, TINY);
    await stack.settled(60_000);
    await stack.stop();
    s3.destroy();

    // 2. uploads while no stack handles them (their events are lost), as when `local up` stopped with them queued
    const queued: [string, "submitted" | "rejected"][] = [
      ["incoming/bob/c+d e.h5", "submitted"], ["incoming/bob/100%.h5", "rejected"], ["incoming/bob/résumé 日本 🧪.h5", "rejected"], ["incoming/bob/a%2Bb.h5", "rejected"],
    ];
    const bare = new S3Server({ directory: localPaths(d).s3, buckets: [SCANS, RESULTS] });
    await bare.start();
    s3 = makeS3Client(bare.settings);
    for (const [key, outcome] of queued) await put(s3, key, outcome === "submitted" ? valid : bad, outcome === "submitted" ? TINY : undefined);
    await put(s3, "incoming/bob/notes.txt", "not a scan");
    await put(s3, "incoming/bob/other.json", "{}");
    // 3. a claim a killed stack left half done (lease still running, no job): recovered, not stuck
    const half = "incoming/carol/half done.h5";
    const etag = await put(s3, half, bad);
    const listed = (await bare.list(SCANS, "incoming/carol/")).objects[0];
    const id = uploadId(SCANS, half, versionKey({ etag }, listed.sequencer));
    await new FileIdempotencyStore(localPaths(d).uploads).claim({ id, bucket: SCANS, key: half, etag, configHash: "", user: "carol", resultPrefix: `results/carol/half done/${id.slice(0, 16)}/` }, Date.now(), 6 * 60_000);
    s3.destroy();
    await bare.stop();

    // 4. the next start delivers exactly those, once
    stack = await startLocalStack({ dataDir: d, redeliveryMs: 200 });
    try {
      expect(new Set(stack.rescanned.delivered)).toEqual(new Set([...queued.map(([k]) => k), half]));
      expect(stack.rescanned.unfinished).toEqual([half]);
      expect(stack.rescanned.listed).toBe(8);
      s3 = makeS3Client(stack.server.settings);
      // odd keys through the event path too, while the rescan's deliveries are handled
      const live: [string, "submitted" | "rejected"][] = [["incoming/alice/a+b.h5", "rejected"], ["incoming/alice/my scan (v2) 100% é.h5", "submitted"]];
      for (const [key, outcome] of live) await put(s3, key, outcome === "submitted" ? valid : bad, outcome === "submitted" ? TINY : undefined);
      // a traversal key is refused by the server: it never reaches the handler
      const refused = await put(s3, "incoming/alice/../bob/c+d e.h5", bad).then(() => null, (e: unknown) => e as { name: string; $metadata: { httpStatusCode: number } });
      expect([refused?.name, refused?.$metadata.httpStatusCode]).toEqual(["InvalidArgument", 400]);
      await stack.settled(120_000);
      for (const [key, outcome] of [...queued, ...live, [first, "submitted"] as const, [half, "rejected"] as const]) await expectHandledOnce(d, s3, key, outcome);
      expect(records(d, "incoming/bob/notes.txt")).toEqual([]);
      const log = logLines(d);
      expect(log.filter((l) => l.message === "gone")).toEqual([]); // "+" keys used to be looked up decoded, and "gone"
      expect(log.filter((l) => l.message === "rescanned incoming/").map((l) => l.delivered)).toEqual([0, 5]);
      s3.destroy();
    } finally {
      await stack.stop();
    }

    // 5. a third start has nothing to deliver
    stack = await startLocalStack({ dataDir: d });
    try {
      expect(stack.rescanned).toMatchObject({ delivered: [], unfinished: [], listed: 10 });
    } finally {
      await stack.stop();
    }
  });
});

/** `ptyxrf local up` in its own process, with its output. */
function localUp(dataDir: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, "local", "up", "--data-dir", dataDir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b));
  child.stderr!.on("data", (b: Buffer) => (out += b));
  const exited = new Promise<number | null>((r) => child.once("close", r));
  return { child, output: () => out, exited };
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("ptyxrf local up", () => {
  it("stopped (SIGINT) with uploads queued, started again: every upload handled exactly once", async () => {
    const d = path.join(dir, "up");
    const keys: [string, "submitted" | "rejected"][] = [
      ["incoming/dave/one.h5", "rejected"], ["incoming/dave/two+2.h5", "rejected"], ["incoming/dave/three 3.h5", "rejected"], ["incoming/dave/four.h5", "submitted"],
    ];
    let up = localUp(d);
    await until("local up started", () => up.output().includes("ptyxrf local stack running"), 30_000);
    const info = JSON.parse(fs.readFileSync(stackFile(d), "utf8")) as StackInfo;
    let s3 = makeS3Client(s3SettingsFor(info.endpoint));
    for (const [key, outcome] of keys) await put(s3, key, outcome === "submitted" ? valid : bad, outcome === "submitted" ? TINY : undefined);
    s3.destroy();
    up.child.kill("SIGINT");
    expect(await up.exited).toBe(0);
    const handled = keys.filter(([k]) => records(d, k).some((r) => r.status !== "processing")).length;
    expect(handled).toBeLessThan(keys.length); // some were still queued when it stopped

    up = localUp(d);
    try {
      await until("local up started again", () => up.output().includes("ptyxrf local stack running"), 30_000);
      expect(up.output()).toContain(`rescan: ${keys.length - handled} upload`);
      const again = JSON.parse(fs.readFileSync(stackFile(d), "utf8")) as StackInfo;
      s3 = makeS3Client(s3SettingsFor(again.endpoint));
      await until("every upload handled", () => keys.every(([k, outcome]) => {
        const recs = records(d, k);
        if (outcome === "rejected") return recs.some((r) => r.status === "rejected");
        return listJobs(localPaths(d).jobs).some((j) => j.parameters.scanUri === `s3://${SCANS}/${k}` && j.status === "SUCCEEDED");
      }), 90_000);
      for (const [key, outcome] of keys) await expectHandledOnce(d, s3, key, outcome);
      s3.destroy();
    } finally {
      up.child.kill("SIGINT");
      expect(await up.exited).toBe(0);
    }
  });

  it("its S3 server killed: says so, exits 1, and leaves no stack.json behind", async () => {
    const d = path.join(dir, "killed");
    const up = localUp(d);
    await until("local up started", () => up.output().includes("ptyxrf local stack running"), 30_000);
    const info = JSON.parse(fs.readFileSync(stackFile(d), "utf8")) as StackInfo;
    expect(info.s3Pid).toBeGreaterThan(0);
    const t0 = Date.now();
    process.kill(info.s3Pid!, "SIGKILL");
    const code = await Promise.race([up.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 30_000))]);
    if (code === "hung") up.child.kill("SIGKILL");
    expect(code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(up.output()).toMatch(new RegExp(`ptyxrf local up: the local S3 server \\(pid ${info.s3Pid}\\) died \\(killed by SIGKILL\\): http://127\\.0\\.0\\.1:\\d+ is gone, so the stack stops`));
    expect(fs.existsSync(stackFile(d))).toBe(false);
    expect(runningStack(d)).toBeNull();
  });
});
