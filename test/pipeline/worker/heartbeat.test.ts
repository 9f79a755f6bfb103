/**
 * A killed worker's progress.json does not say "running" forever: the worker stamps a heartbeat in it while
 * it lives (PTYXRF_HEARTBEAT_SECONDS), and readers (ServiceClient.statusAt: `ptyxrf status`, submit --wait,
 * the demo, on every profile) report the run "stale (no heartbeat for N s)" once the heartbeat is older
 * than the timeout (heartbeat.ts).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceClient } from "../../../src/pipeline/local/client.js";
import { progressLine } from "../../../src/pipeline/local/follow.js";
import type { Profile } from "../../../src/pipeline/local/profile.js";
import { cleanEnv, workerArgv } from "../../../src/pipeline/local/runner.js";
import { LOCAL_CREDENTIALS, S3Server } from "../../../src/pipeline/local/s3server.js";
import { startLocalStack } from "../../../src/pipeline/local/stack.js";
import { heartbeatTimeoutSeconds, staleness } from "../../../src/pipeline/worker/heartbeat.js";
import type { Progress } from "../../../src/pipeline/worker/worker.js";
import { makeS3Client } from "../../../src/scan/s3Client.js";
import { reader, writer } from "../../../src/scan/h5runtime.js";
import { writeScan } from "../../../src/scan/write.js";
import { simulate } from "../../../src/sim/simulate.js";
import { packageRoot } from "../../../src/version.js";
import { cli } from "../../cli/run.js";

const SCANS = "ptyxrf-scans", RESULTS = "ptyxrf-results";
const T = Date.parse("2026-11-21T10:00:00Z");
const progress = (o: Partial<Progress>): Progress => ({
  state: "running", runId: "r", jobId: "j", attempt: 1, iteration: 40, iterations: 100, resumedFrom: 0, checkpoint: 30,
  updated: new Date(T).toISOString(), heartbeat: new Date(T).toISOString(), heartbeatSeconds: 30, ...o,
});

describe("staleness (unit)", () => {
  it("a live state is stale once its heartbeat is older than the timeout: max(60 s, 4 heartbeats), or PTYXRF_HEARTBEAT_TIMEOUT_SECONDS", () => {
    expect(heartbeatTimeoutSeconds({ heartbeatSeconds: 30 }, {})).toBe(120);
    expect(heartbeatTimeoutSeconds({ heartbeatSeconds: 5 }, {})).toBe(60);
    expect(heartbeatTimeoutSeconds({ heartbeatSeconds: 5 }, { PTYXRF_HEARTBEAT_TIMEOUT_SECONDS: "7" })).toBe(7);
    expect(heartbeatTimeoutSeconds({}, { PTYXRF_HEARTBEAT_TIMEOUT_SECONDS: "nope" })).toBe(120);
    expect(staleness(progress({}), T + 119_000, {})).toBeNull();
    expect(staleness(progress({}), T + 125_000, {})).toEqual({ ageSeconds: 125, timeoutSeconds: 120 });
    for (const state of ["starting", "uploading", "complete"] as const) expect(staleness(progress({ state }), T + 600_000, {})).not.toBeNull();
    // an attempt that ended says so itself: never stale
    for (const state of ["interrupted", "failed"] as const) expect(staleness(progress({ state }), T + 600_000, {})).toBeNull();
    // written by a worker without heartbeats: `updated` stands in, at the default 30 s
    const { heartbeat: _h, heartbeatSeconds: _s, ...legacy } = progress({});
    expect(staleness(legacy, T + 121_000, {})).toEqual({ ageSeconds: 121, timeoutSeconds: 120 });
  });
});

let dir: string;
let server: S3Server;
let s3: S3Client;
let etag = "";

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-heartbeat-"));
  server = new S3Server({ directory: path.join(dir, "s3"), buckets: [SCANS, RESULTS] });
  await server.start();
  s3 = makeS3Client(server.settings);
  await Promise.all([reader(), writer()]);
  const sim = simulate({ preset: "small", seed: 5 });
  const scan = path.join(dir, "scan.h5");
  await writeScan(scan, sim.header, sim.frames, { compression: "none" });
  etag = (await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/scan.h5", Body: fs.readFileSync(scan) }))).ETag!.replace(/"/g, "");
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("a killed worker's run is reported stale", () => {
  it("heartbeats while alive (without progress changes); SIGKILL; `running` until the timeout, then `stale (no heartbeat for N s)`", async () => {
    const profile: Profile = { name: "aws", s3: server.settings, scansBucket: SCANS, resultsBucket: RESULTS, dataDir: null, description: "loopback" };
    const client = new ServiceClient(profile);
    client.env = { PTYXRF_HEARTBEAT_TIMEOUT_SECONDS: "1.5" };
    const prefix = "results/u/killed/0123456789abcdef/";
    const [, ...args] = workerArgv({ scanUri: `s3://${SCANS}/incoming/u/scan.h5`, scanVersion: `etag:${etag}`, resultPrefix: `s3://${RESULTS}/${prefix}`, config: JSON.stringify({ iterations: 100_000 }), user: "u" });
    const child = spawn(process.execPath, args, {
      cwd: packageRoot(), stdio: "ignore",
      env: {
        ...cleanEnv(), AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        PTYXRF_S3_ENDPOINT: server.endpoint, PTYXRF_S3_CHECKSUMS: "WHEN_REQUIRED", PTYXRF_SCRATCH: path.join(dir, "scratch"), AWS_BATCH_JOB_ID: "job-k",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        // no progress updates, no checkpoints: only the heartbeat rewrites progress.json
        PTYXRF_PROGRESS_SECONDS: "0", PTYXRF_CHECKPOINT_EVERY: "1000000", PTYXRF_HEARTBEAT_SECONDS: "0.2",
      },
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on("close", (_c, s) => r(s)));
    try {
      const t0 = Date.now();
      let first = await client.statusAt(prefix);
      while (first.progress?.state !== "running") {
        if (Date.now() - t0 > 30_000) throw new Error(`the worker did not start solving: ${first.detail}`);
        await new Promise((r) => setTimeout(r, 100));
        first = await client.statusAt(prefix);
      }
      await new Promise((r) => setTimeout(r, 700));
      const later = await client.statusAt(prefix);
      expect(later.state).toBe("running");
      expect(Date.parse(later.progress!.heartbeat!)).toBeGreaterThan(Date.parse(first.progress!.heartbeat!));
      expect(later.progress!.updated).toBe(first.progress!.updated); // nothing changed but the heartbeat
      expect(later.progress!.heartbeatSeconds).toBe(0.2);
    } finally {
      child.kill("SIGKILL");
    }
    expect(await exited).toBe("SIGKILL");
    const killedAt = Date.now();
    const right = await client.statusAt(prefix);
    expect(right.state).toBe("running"); // within the timeout: could be a slow iteration
    await new Promise((r) => setTimeout(r, 2000));
    const stale = await client.statusAt(prefix);
    expect(stale.state).toBe("stale");
    expect(stale.terminal).toBe(false);
    expect(stale.stale!.timeoutSeconds).toBe(1.5);
    expect(stale.stale!.ageSeconds).toBeGreaterThan(1.5);
    expect(stale.stale!.ageSeconds).toBeLessThan((Date.now() - killedAt) / 1000 + 1);
    expect(stale.detail).toMatch(/^stale \(no heartbeat for \d+ s\): the worker was running at iteration \d+\/100000 \(attempt 1\) and has written nothing since /);
    expect(progressLine(stale)).toMatch(/\] \d+\/100000 stale \(no heartbeat for \d+ s\) \(attempt 1\)/);
    client.close();
  });

  it("`ptyxrf status RUN` on the local profile says stale, with how long", async () => {
    const d = path.join(dir, "local");
    const stack = await startLocalStack({ dataDir: d });
    try {
      const prefix = "results/erin/scan/fedcba9876543210/";
      const old = new Date(Date.now() - 600_000).toISOString();
      await makeS3Client(stack.server.settings).send(new PutObjectCommand({
        Bucket: RESULTS, Key: `${prefix}progress.json`, Body: JSON.stringify(progress({ updated: old, heartbeat: old, heartbeatSeconds: 5 })),
      }));
      const r = await cli("status", "fedcba9876543210", "--data-dir", d);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^run fedcba9876543210: stale$/m);
      expect(r.stdout).toMatch(/progress\s+\[#+-+\] 40\/100 stale \(no heartbeat for 60\d s\) \(attempt 1\)/);
      const json = JSON.parse((await cli("status", "fedcba9876543210", "--data-dir", d, "--json")).stdout) as { state: string; detail: string };
      expect(json.state).toBe("stale");
      expect(json.detail).toMatch(/^stale \(no heartbeat for 60\d s\): the worker was running at iteration 40\/100 \(attempt 1, checkpoint at 30\)/);
    } finally {
      await stack.stop();
    }
  });
});
