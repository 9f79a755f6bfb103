/**
 * The worker's entry point (dist/container/worker.js, the image's command) as a plain Node process against
 * s3rver on 127.0.0.1, with the job definition's arguments and Batch's environment: exit codes for invalid
 * input (2), an unreachable S3 (75), a misconfigured deployment (1); error.json for invalid input; a run
 * that is already complete; a corrupt checkpoint or one of another run is not used; NaN counts past the
 * validator's sample and a run whose losses become NaN end with error.json and exit 2, never with outputs.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeCheckpoint } from "../../../src/pipeline/checkpoint/format.js";
import { S3Server, LOCAL_CREDENTIALS } from "../../../src/pipeline/local/s3server.js";
import { readNotifications } from "../../../src/pipeline/local/notifications.js";
import { workerArgv, cleanEnv } from "../../../src/pipeline/local/runner.js";
import { EXIT, retryDecision } from "../../../src/pipeline/worker/exitCodes.js";
import { parseWorkerJob, JobInputError, DeploymentError } from "../../../src/pipeline/worker/job.js";
import { S3Transfer } from "../../../src/pipeline/worker/transfer.js";
import { makeS3Client } from "../../../src/scan/s3Client.js";
import { reader, writer } from "../../../src/scan/h5runtime.js";
import { writeScan, writeTruth } from "../../../src/scan/write.js";
import { simulate } from "../../../src/sim/simulate.js";
import { WORKER_COMMAND } from "../../../src/pipeline/submit/jobSpec.js";
import { packageRoot } from "../../../src/version.js";
import { rewriteH5 } from "../../scan/fixtures.js";
import { unsampled, writeSmallScan } from "../badRuns.js";
import { PNG } from "pngjs";
import { scanGeometry } from "../../../src/solver/problem.js";

const SCANS = "ptyxrf-scans", RESULTS = "ptyxrf-results";
let dir: string;
let server: S3Server;
let s3: S3Client;
let transfer: S3Transfer;
let scanBytes: Buffer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-worker-"));
  server = new S3Server({ directory: path.join(dir, "s3"), buckets: [SCANS, RESULTS] });
  await server.start();
  s3 = makeS3Client(server.settings);
  transfer = new S3Transfer(s3, { retry: { attempts: 2, baseMs: 10 } });
  await Promise.all([reader(), writer()]);
  const sim = simulate({ preset: "small", seed: 2 });
  const scan = path.join(dir, "scan.h5");
  await writeScan(scan, sim.header, sim.frames, { compression: "none" });
  scanBytes = fs.readFileSync(scan);
  await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/good.h5", Body: scanBytes }));
  await rewriteH5(scan, path.join(dir, "bad.h5"), { drop: ["/ptychography/positions"] });
  await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/bad.h5", Body: fs.readFileSync(path.join(dir, "bad.h5")) }));
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  lines: { level: string; message: string; [k: string]: unknown }[];
  stderr: string;
}

/** The worker as Batch runs it: the job definition's command, Ref:: parameters substituted. */
function runWorker(parameters: Record<string, string>, env: Record<string, string> = {}, extraArgs: string[] = []): Promise<Run> {
  const [, ...args] = workerArgv({ scanUri: "", scanVersion: "", resultPrefix: "", config: "{}", user: "u", ...parameters });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, ...extraArgs], {
      cwd: packageRoot(),
      env: {
        ...cleanEnv(), AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        PTYXRF_S3_ENDPOINT: server.endpoint, PTYXRF_S3_CHECKSUMS: "WHEN_REQUIRED", PTYXRF_SCRATCH: path.join(dir, "scratch"),
        PTYXRF_NOTIFY_FILE: path.join(dir, "notifications.jsonl"), AWS_BATCH_JOB_ID: "job-1", AWS_BATCH_JOB_ATTEMPT: "1",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", PTYXRF_S3_ATTEMPTS: "2", ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "", err = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (err += d));
    child.on("close", (code) => {
      const lines = (out + err).split("\n").flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      });
      resolve({ code, lines, stderr: err });
    });
  });
}

const good = (out: string, config: unknown = { iterations: 12 }) => ({
  scanUri: `s3://${SCANS}/incoming/u/good.h5`, scanVersion: `etag:${"x"}`, resultPrefix: `s3://${RESULTS}/results/u/${out}/`, config: JSON.stringify(config), user: "u",
});

async function goodVersion(): Promise<string> {
  const head = await transfer.exists({ bucket: SCANS, key: "incoming/u/good.h5" });
  expect(head).toBe(true);
  const { etag } = await transfer.download({ bucket: SCANS, key: "incoming/u/good.h5" }, path.join(dir, "probe.h5"));
  return `etag:${etag}`;
}

describe("worker job contract", () => {
  it("parses the job definition's command, the environment fallbacks and Batch's variables", () => {
    expect(WORKER_COMMAND.slice(0, 2)).toEqual(["node", "dist/container/worker.js"]);
    const [, , ...args] = workerArgv({ scanUri: "s3://b/incoming/u/a.h5", scanVersion: "v1", resultPrefix: "s3://r/results/u/a/t/", config: '{"iterations":5}', user: "u" });
    const job = parseWorkerJob(args, { AWS_BATCH_JOB_ID: "j", AWS_BATCH_JOB_ATTEMPT: "3" });
    expect(job).toMatchObject({ scanUri: "s3://b/incoming/u/a.h5", scan: { bucket: "b", key: "incoming/u/a.h5" }, scanVersion: "v1", out: { bucket: "r", key: "results/u/a/t/" }, user: "u", jobId: "j", attempt: 3, truth: null });
    expect(job.config.iterations).toBe(5);
    const fromEnv = parseWorkerJob([], { PTYXRF_SCAN_URI: "s3://b/k.h5", PTYXRF_SCAN_VERSION: "etag:e", PTYXRF_RESULT_PREFIX: "s3://r/p/", PTYXRF_TRUTH_URI: "s3://b/t.truth", PTYXRF_ENGINE: "reference" });
    expect(fromEnv.truth).toEqual({ bucket: "b", key: "t.truth" });
    expect(fromEnv.config.engine).toBe("reference");
    const bad = (() => { try { parseWorkerJob(["--scan", "nope", "--out", "s3://r/no-slash", "--config", '{"iterations":-1,"mode":"x"}'], {}); } catch (e) { return e as JobInputError; } })();
    expect(bad).toBeInstanceOf(JobInputError);
    expect(bad!.problems.join("\n")).toMatch(/--scan expects[\s\S]*--scan-version[\s\S]*--out expects[\s\S]*config:/);
    expect(() => parseWorkerJob(args, { PTYXRF_ENGINE: "warp-drive" })).toThrow(DeploymentError);
  });

  it("exit codes follow the job definition's retry strategy", () => {
    expect([EXIT.ok, EXIT.invalidInput, EXIT.retryable, EXIT.internal]).toEqual([0, 2, 75, 1]);
    expect(retryDecision(0, null)).toBe("done");
    expect(retryDecision(75, null)).toBe("retry");
    expect(retryDecision(null, "SIGKILL")).toBe("retry");
    expect(retryDecision(2, null)).toBe("fail");
    expect(retryDecision(1, null)).toBe("fail");
  });
});

describe("the worker process (dist/container/worker.js)", () => {
  it("--help: the usage, exit 0; bad arguments: exit 2; an unknown engine: exit 1 (deployment), never 2", async () => {
    const help = await runWorker(good("h"), {}, ["--help"]);
    expect(help.code).toBe(0);
    const missing = await runWorker({ scanUri: "", resultPrefix: "" });
    expect(missing.code).toBe(EXIT.invalidInput);
    expect(missing.lines.find((l) => l.message === "invalid job input")!.problems).toEqual(expect.arrayContaining([expect.stringMatching(/--scan/)]));
    const engine = await runWorker(good("e"), { PTYXRF_ENGINE: "warp-drive" });
    expect(engine.code).toBe(EXIT.internal);
  });

  it("a scan version that no longer exists and an invalid scan: exit 2, error.json in the run folder", async () => {
    const gone = await runWorker({ ...good("gone"), scanVersion: "etag:0000" });
    expect(gone.code).toBe(EXIT.invalidInput);
    const err = await transfer.getJson<{ problems: string[]; invalidInput: boolean }>({ bucket: RESULTS, key: "results/u/gone/error.json" });
    expect(err!.invalidInput).toBe(true);
    expect(err!.problems[0]).toMatch(/no longer has ETag 0000/);
    const progress = await transfer.getJson<{ state: string }>({ bucket: RESULTS, key: "results/u/gone/progress.json" });
    expect(progress!.state).toBe("failed");

    const invalid = await runWorker({ ...good("invalid"), scanUri: `s3://${SCANS}/incoming/u/bad.h5`, scanVersion: "etag:" });
    expect(invalid.code).toBe(EXIT.invalidInput);
    const err2 = await transfer.getJson<{ problems: string[] }>({ bucket: RESULTS, key: "results/u/invalid/error.json" });
    expect(err2!.problems.join("\n")).toMatch(/\/ptychography\/positions/);
    expect(await transfer.exists({ bucket: RESULTS, key: "results/u/invalid/manifest.json" })).toBe(false);
  });

  it("S3 unreachable: retried with backoff, then exit 75 (retryable)", async () => {
    const r = await runWorker(good("down"), { PTYXRF_S3_ENDPOINT: "http://127.0.0.1:9" });
    expect(r.code).toBe(EXIT.retryable);
    expect(r.lines.some((l) => l.message === "S3 request failed, retrying")).toBe(true);
    expect(r.lines.some((l) => l.message === "transient failure: the job will be retried")).toBe(true);
  });

  it("ignores a corrupt checkpoint and one of another run, completes, and deletes the checkpoint; a second run of a complete folder only re-notifies", async () => {
    const version = await goodVersion();
    const params = { ...good("ckpt"), scanVersion: version };
    const ckpt = { bucket: RESULTS, key: "results/u/ckpt/_checkpoint/solver.ckpt" };
    await transfer.putBytes(ckpt, Buffer.from("PTYXCKP1 garbage"));
    const r1 = await runWorker(params);
    expect(r1.code).toBe(EXIT.ok);
    expect(r1.lines.find((l) => l.message === "checkpoint unusable, starting afresh")).toBeDefined();
    expect(await transfer.exists(ckpt)).toBe(false);
    expect(await transfer.exists({ bucket: RESULTS, key: "results/u/ckpt/manifest.json" })).toBe(true);

    // a valid checkpoint, but of another config: not used
    const other = encodeCheckpoint({
      identity: { scan: params.scanUri, scanVersion: version, configHash: "ffffffffffffffff", truth: "" }, created: "x",
      snapshot: { meta: { version: 1, mode: "joint", iteration: 6, iterations: 12, elapsed_s: 0, adam: {}, gradnorm: { weights: [1, 1], initialLosses: null }, rateScale: {}, plateau: null, refiner: null, history: [] }, arrays: {} },
    });
    const params2 = { ...good("ckpt2"), scanVersion: version };
    await transfer.putBytes({ bucket: RESULTS, key: "results/u/ckpt2/_checkpoint/solver.ckpt" }, other);
    const r2 = await runWorker(params2);
    expect(r2.code).toBe(EXIT.ok);
    expect(r2.lines.find((l) => l.message === "checkpoint of another run (scan version, config or truth differ), starting afresh")).toBeDefined();

    const before = readNotifications(path.join(dir, "notifications.jsonl")).filter((n) => n.kind === "succeeded").length;
    const again = await runWorker(params);
    expect(again.code).toBe(EXIT.ok);
    expect(again.lines.find((l) => l.message === "already complete: the run folder has its manifest")).toBeDefined();
    expect(again.lines.find((l) => l.message === "solving")).toBeUndefined();
    expect(readNotifications(path.join(dir, "notifications.jsonl")).filter((n) => n.kind === "succeeded").length).toBe(before + 1);
  });
});

describe("worker: a ground truth of another scan", () => {
  it("is reported and left out (the run completes without errors), not a crash halfway (src/pipeline/truthMatch.ts)", async () => {
    const other = simulate({ preset: "small", seed: 2, probeSize: 16 }).truth;
    const file = path.join(dir, "other.truth.h5");
    await writeTruth(file, other);
    await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/other.truth.h5", Body: fs.readFileSync(file) }));
    const params = { ...good("wrongtruth", { iterations: 2 }), scanVersion: await goodVersion() };
    const r = await runWorker(params, { PTYXRF_TRUTH_URI: `s3://${SCANS}/incoming/u/other.truth.h5` });
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const warning = r.lines.find((l) => l.message === "ground truth does not match the scan: reconstructing without errors");
    expect(warning?.errorMessage).toMatch(/^truth does not match scan: probe size: the scan's frames are 32 x 32, the truth's probe 16 x 16; /);
    const metrics = await transfer.getJson<{ truth: string | null; final: Record<string, unknown> }>({ bucket: RESULTS, key: "results/u/wrongtruth/metrics.json" });
    expect(metrics!.truth).toBeNull();
    expect(metrics!.final.object_rel_error).toBeUndefined();
  });
});

describe("the worker never publishes NaN: bad frames past the validator's sample, a diverging run", () => {
  beforeAll(async () => {
    const nan = path.join(dir, "nan-frames.h5"), zero = path.join(dir, "zero-xrf.h5");
    const { npos } = await writeSmallScan(nan, { pixels: [{ frame: unsampled(36)[4], pixel: 100, value: Number.NaN }] });
    expect(npos).toBe(36);
    await writeSmallScan(zero, { zeroXrf: true });
    await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/nan-frames.h5", Body: fs.readFileSync(nan) }));
    await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/zero-xrf.h5", Body: fs.readFileSync(zero) }));
  });

  const job = (scan: string, out: string) => ({ ...good(out, { iterations: 20, threads: 1 }), scanUri: `s3://${SCANS}/incoming/u/${scan}`, scanVersion: "etag:" });
  const outputs = async (out: string) => {
    const names = ["manifest.json", "result.h5", "metrics.json", "report.html"];
    return (await Promise.all(names.map((n) => transfer.exists({ bucket: RESULTS, key: `results/u/${out}/${n}` })))).filter(Boolean).length;
  };

  it("NaN counts in a frame the validator did not sample: exit 2, error.json names the frame, no outputs", async () => {
    const r = await runWorker(job("nan-frames.h5", "nan-frames"));
    expect(r.code).toBe(EXIT.invalidInput);
    const err = await transfer.getJson<{ problems: string[]; invalidInput: boolean }>({ bucket: RESULTS, key: "results/u/nan-frames/error.json" });
    expect(err!.invalidInput).toBe(true);
    expect(err!.problems).toEqual([`/ptychography/diffraction: expected finite counts in every frame, found NaN or infinite values in 1 of 36 frames (the first: frame ${unsampled(36)[4]}, pixel [3, 4] = NaN)`]);
    expect(r.lines.some((l) => l.message === "solving")).toBe(false);
    expect(await outputs("nan-frames")).toBe(0);
    const progress = await transfer.getJson<{ state: string }>({ bucket: RESULTS, key: "results/u/nan-frames/progress.json" });
    expect(progress!.state).toBe("failed");
  });

  it("losses that become NaN: exit 2 at that iteration with the reason in error.json; no manifest, no outputs, no success message", async () => {
    const before = readNotifications(path.join(dir, "notifications.jsonl")).length;
    const r = await runWorker(job("zero-xrf.h5", "zero-xrf"));
    expect(r.code).toBe(EXIT.invalidInput);
    const err = await transfer.getJson<{ problems: string[]; invalidInput: boolean }>({ bucket: RESULTS, key: "results/u/zero-xrf/error.json" });
    expect(err!.problems).toEqual(["loss became NaN at iteration 2 (weight ptycho NaN, weight xrf NaN): the reconstruction diverged and no results were written (all-zero or extreme data, or step sizes too large for this scan?)"]);
    expect(await outputs("zero-xrf")).toBe(0);
    expect(r.lines.filter((l) => l.message === "iteration").map((l) => l.iteration)).not.toContain(20);
    expect(readNotifications(path.join(dir, "notifications.jsonl")).slice(before).filter((n) => n.kind === "succeeded")).toEqual([]);
    const progress = await transfer.getJson<{ state: string; message: string }>({ bucket: RESULTS, key: "results/u/zero-xrf/progress.json" });
    expect(progress).toMatchObject({ state: "failed", message: expect.stringMatching(/loss became NaN at iteration 2/) });
  });
});

describe("the correlation mask of a cloud run: a key beside the scan, read and checked before the solve", () => {
  const withMask = (out: string, mask: string) => ({ ...good(out, { iterations: 4, threads: 1, correlation: { mask } }), scanVersion: "etag:" });

  it("a path on the worker (/dev/zero) is invalid job input: exit 2 before anything is read", async () => {
    const r = await runWorker(withMask("mask-zero", "/dev/zero"));
    expect(r.code).toBe(EXIT.invalidInput);
    expect(r.lines.find((l) => l.message === "invalid job input")!.problems).toEqual([expect.stringMatching(/^config: "correlation\.mask" must name a PNG in the scan's own folder, .* not a path on the worker; got "\/dev\/zero"$/)]);
    expect(r.lines.some((l) => l.message === "scan downloaded")).toBe(false);
  });

  it("a missing mask and one that is not a PNG: exit 2 with error.json before the solve", async () => {
    const missing = await runWorker(withMask("mask-missing", "labels/none.png"));
    expect(missing.code).toBe(EXIT.invalidInput);
    const err = await transfer.getJson<{ problems: string[] }>({ bucket: RESULTS, key: "results/u/mask-missing/error.json" });
    expect(err!.problems).toEqual([`config: "correlation.mask" s3://${SCANS}/incoming/u/labels/none.png does not exist (upload the label image beside the scan, before the scan)`]);
    expect(missing.lines.some((l) => l.message === "solving")).toBe(false);

    await transfer.putBytes({ bucket: SCANS, key: "incoming/u/notes.png" }, "not a picture");
    const text = await runWorker(withMask("mask-text", "notes.png"));
    expect(text.code).toBe(EXIT.invalidInput);
    const err2 = await transfer.getJson<{ problems: string[] }>({ bucket: RESULTS, key: "results/u/mask-text/error.json" });
    expect(err2!.problems[0]).toMatch(/^config: "correlation\.mask" s3:\/\/ptyxrf-scans\/incoming\/u\/notes\.png is not a PNG file/);
    expect(text.lines.some((l) => l.message === "solving")).toBe(false);
  });

  it("a PNG beside the scan, of the object's size, gives the regions of the run's correlation analysis", async () => {
    const sim = simulate({ preset: "small", seed: 2 });
    const { width, height } = scanGeometry(sim.header, true);
    const png = new PNG({ width, height });
    for (let i = 0; i < width * height; i++) png.data.set([i % width < width / 2 ? 1 : 2, 0, 0, 255], 4 * i);
    await transfer.putBytes({ bucket: SCANS, key: "incoming/u/labels/cells.png" }, PNG.sync.write(png));
    const r = await runWorker(withMask("mask-ok", "labels/cells.png"));
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const metrics = await transfer.getJson<{ correlation: { source: string; mask: string; warnings: string[] }; config: { correlation: { mask: string } } }>({ bucket: RESULTS, key: "results/u/mask-ok/metrics.json" });
    expect(metrics!.correlation).toMatchObject({ source: "mask", mask: `s3://${SCANS}/incoming/u/labels/cells.png`, warnings: [] });
    expect(metrics!.config.correlation.mask).toBe("labels/cells.png");
  });
});
