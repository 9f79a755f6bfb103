/**
 * A worker facing a store that keeps failing gives up within a bounded time (PTYXRF_S3_DEADLINE_SECONDS,
 * shared by every request: transfer.ts S3Health), with exit 75 and a message naming the bound, instead of
 * retrying each request in turn and queueing one progress write per second behind them; progress and
 * checkpoint writes are coalesced (latestWriter.ts: one in flight, the newest waiting).
 *
 * The worker process (dist/container/worker.js) runs against a loopback proxy in front of s3rver that can
 * be switched to answer every request with 503 (a store that is down), from the start or mid-solve.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, workerArgv } from "../../../src/pipeline/local/runner.js";
import { LOCAL_CREDENTIALS, S3Server } from "../../../src/pipeline/local/s3server.js";
import { EXIT } from "../../../src/pipeline/worker/exitCodes.js";
import { LatestWriter } from "../../../src/pipeline/worker/latestWriter.js";
import { S3DeadlineError, S3Health, TransientS3Error, withRetry } from "../../../src/pipeline/worker/transfer.js";
import { makeS3Client } from "../../../src/scan/s3Client.js";
import { reader, writer } from "../../../src/scan/h5runtime.js";
import { writeScan } from "../../../src/scan/write.js";
import { simulate } from "../../../src/sim/simulate.js";
import { packageRoot } from "../../../src/version.js";

const http503 = () => Object.assign(new Error("ServiceUnavailable"), { name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } });

describe("the retry deadline (unit, a fake clock)", () => {
  it("requests give up once S3 has been failing for the deadline, counted from the first failure of any request; the last try comes at the deadline", async () => {
    let t = 0;
    const now = () => t;
    const sleep = async (ms: number) => { t += ms; };
    const health = new S3Health();
    const tries: number[] = [];
    const err = await withRetry("PUT a", async () => { tries.push(t); throw http503(); }, { now, sleep, health, deadlineMs: 5000, attempts: 100, baseMs: 1000, maxMs: 4000, random: () => 0.5 })
      .catch((e: unknown) => e as S3DeadlineError);
    expect(err).toBeInstanceOf(S3DeadlineError);
    expect(err).toBeInstanceOf(TransientS3Error); // exit 75
    expect(tries).toEqual([0, 1000, 3000, 5000]);
    expect(err.message).toMatch(/^PUT a: S3 has been failing for 5\.0 s, past the 5\.0 s bound \(PTYXRF_S3_DEADLINE_SECONDS\): giving up; last error: ServiceUnavailable/);
    // another request on the same failing store: one try, then the same verdict
    let n = 0;
    await expect(withRetry("PUT b", async () => { n++; throw http503(); }, { now, sleep, health, deadlineMs: 5000 })).rejects.toThrow(/PUT b: S3 has been failing for 5\.0 s/);
    expect(n).toBe(1);
    // one success resets the clock
    expect(await withRetry("GET c", async () => "ok", { now, sleep, health, deadlineMs: 5000 })).toBe("ok");
    expect(health.failingSince).toBeNull();
  });

  it("LatestWriter: one write in flight, the newest waiting; 100 updates against a slow store cost 2 writes, and the last one wins", async () => {
    const written: number[] = [];
    let inFlight = 0, maxInFlight = 0;
    const w = new LatestWriter<number>(async (v) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      if (v === 0) throw new Error("store down");
      written.push(v);
    }, () => undefined);
    const waits = [];
    for (let i = 0; i < 100; i++) waits.push(w.push(i));
    await Promise.all(waits); // every push resolves: its value or a newer one was written
    await w.idle();
    expect(maxInFlight).toBe(1);
    expect(written).toEqual([99]); // 0 failed (logged, not fatal); 1..98 were replaced while waiting
    expect(w.skipped).toBe(98);
  });
});

const SCANS = "ptyxrf-scans", RESULTS = "ptyxrf-results";
let dir: string;
let server: S3Server;
let s3: S3Client;
let proxy: http.Server;
let proxyPort = 0;
let failing = false;
let failedRequests = 0;
let progressInFlight = 0, maxProgressInFlight = 0;
let etag = "";

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-deadline-"));
  server = new S3Server({ directory: path.join(dir, "s3"), buckets: [SCANS, RESULTS] });
  await server.start();
  s3 = makeS3Client(server.settings);
  await Promise.all([reader(), writer()]);
  const sim = simulate({ preset: "small", seed: 3 });
  const scan = path.join(dir, "scan.h5");
  await writeScan(scan, sim.header, sim.frames, { compression: "none" });
  const put = await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/scan.h5", Body: fs.readFileSync(scan) }));
  etag = put.ETag!.replace(/"/g, "");
  // A store that can be switched off: every request answered 503 ServiceUnavailable, as S3 does when it is down.
  proxy = http.createServer((req, res) => {
    const progress = (req.url ?? "").includes("progress.json");
    if (failing) {
      failedRequests++;
      if (progress) maxProgressInFlight = Math.max(maxProgressInFlight, ++progressInFlight);
      req.resume();
      req.on("end", () => setTimeout(() => {
        if (progress) progressInFlight--;
        res.writeHead(503, { "content-type": "application/xml" }).end("<?xml version=\"1.0\"?><Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>");
      }, 20));
      return;
    }
    const up = http.request({ host: "127.0.0.1", port: server.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyPort = (proxy.address() as AddressInfo).port;
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await new Promise((r) => proxy?.close(r));
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  ms: number;
  lines: { level: string; message: string; [k: string]: unknown }[];
}

/** The worker as Batch runs it, against the proxy; `onLine` sees each log line as it comes. */
function runWorker(out: string, config: unknown, env: Record<string, string>, onLine?: (l: { message: string }) => void): Promise<Run> {
  const [, ...args] = workerArgv({
    scanUri: `s3://${SCANS}/incoming/u/scan.h5`, scanVersion: `etag:${etag}`, resultPrefix: `s3://${RESULTS}/results/u/${out}/`, config: JSON.stringify(config), user: "u",
  });
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: packageRoot(),
      env: {
        ...cleanEnv(), AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        PTYXRF_S3_ENDPOINT: `http://127.0.0.1:${proxyPort}`, PTYXRF_S3_CHECKSUMS: "WHEN_REQUIRED", PTYXRF_SCRATCH: path.join(dir, "scratch"),
        PTYXRF_NOTIFY_FILE: path.join(dir, "notifications.jsonl"), AWS_BATCH_JOB_ID: `job-${out}`, AWS_BATCH_JOB_ATTEMPT: "1",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: Run["lines"] = [];
    let rest = "";
    const onData = (d: Buffer) => {
      const parts = (rest + d.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) {
        try {
          const l = JSON.parse(p) as Run["lines"][number];
          lines.push(l);
          onLine?.(l);
        } catch {
          /* not a log line */
        }
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (code) => resolve({ code, ms: Date.now() - t0, lines }));
  });
}

describe("a worker against a store that keeps failing", () => {
  it("down from the start: exit 75 within the bound (2 s here), with the reason", async () => {
    failing = true;
    failedRequests = 0;
    const r = await runWorker("down", { iterations: 5 }, { PTYXRF_S3_DEADLINE_SECONDS: "2" });
    failing = false;
    expect(r.code).toBe(EXIT.retryable);
    expect(r.ms).toBeLessThan(10_000); // node start-up, 2 s of retries, one last try of the final progress write
    const giveUp = r.lines.find((l) => l.message.startsWith("S3 kept failing past the deadline"));
    expect(giveUp).toMatchObject({ deadlineSeconds: 2 });
    expect(giveUp!.error).toBe("S3DeadlineError");
    expect(String(giveUp!.errorMessage)).toMatch(/S3 has been failing for \d+\.\d s, past the 2\.0 s bound \(PTYXRF_S3_DEADLINE_SECONDS\)/);
    expect(failedRequests).toBeLessThan(40);
  });

  it("down in the middle of a long solve: the solve stops at the next iteration after the bound, exit 75; progress writes one at a time", async () => {
    failedRequests = 0;
    maxProgressInFlight = 0;
    let downAt = 0;
    const r = await runWorker("mid", { iterations: 100_000 }, {
      PTYXRF_S3_DEADLINE_SECONDS: "2", PTYXRF_PROGRESS_SECONDS: "0.02", PTYXRF_CHECKPOINT_EVERY: "3", PTYXRF_HEARTBEAT_SECONDS: "0.05",
    }, (l) => {
      if (!downAt && l.message === "checkpoint saved") {
        failing = true;
        downAt = Date.now();
      }
    });
    const sinceDown = Date.now() - downAt;
    failing = false;
    expect(downAt).toBeGreaterThan(0);
    expect(r.code).toBe(EXIT.retryable);
    // 2 s bound + an iteration + the last try of the final progress write (a few hundred ms here)
    expect(sinceDown).toBeLessThan(8_000);
    expect(r.lines.some((l) => l.message.startsWith("S3 kept failing past the deadline"))).toBe(true);
    // coalesced: never two progress writes at once, however fast the solver asked for them
    expect(maxProgressInFlight).toBe(1);
    expect(failedRequests).toBeLessThan(200);
  });
});
