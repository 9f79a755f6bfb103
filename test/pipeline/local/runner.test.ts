/**
 * The local job runner: the job definition's command with Batch's environment, the retry strategy applied
 * to exit codes (75 and signals retried, 2 and others not), bounded concurrency, stop and resume, and the
 * "Batch Job State Change" event a failed job produces. A fake worker script stands in for dist/container/
 * worker.js (the real one runs in test/e2e and test/pipeline/worker).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobNotification } from "../../../src/pipeline/notify/batchEvents.js";
import { cleanEnv, LocalJobRunner, workerArgv, type LocalJobRecord } from "../../../src/pipeline/local/runner.js";
import { batchEvent } from "../../../src/pipeline/local/stack.js";
import type { JobParameters } from "../../../src/pipeline/submit/jobSpec.js";

let root: string;

/** A fake worker: its config says what each attempt does ({"exits": [75, 0], "sleepMs": 100}). */
const FAKE = `
import fs from "node:fs";
const args = process.argv.slice(2);
const config = JSON.parse(args[args.indexOf("--config") + 1]);
const attempt = Number(process.env.AWS_BATCH_JOB_ATTEMPT);
fs.appendFileSync(process.env.TRACE, JSON.stringify({ job: process.env.AWS_BATCH_JOB_ID, attempt, start: Date.now(), args, env: { region: process.env.AWS_REGION, secret: process.env.AWS_SESSION_TOKEN ?? null, queue: process.env.AWS_BATCH_JQ_NAME } }) + "\\n");
process.on("SIGTERM", () => { console.log("checkpoint and exit"); process.exit(75); });
console.log(JSON.stringify({ message: "hello", attempt }));
setTimeout(() => {
  const code = config.exits[attempt - 1];
  if (code === "kill") process.kill(process.pid, "SIGKILL");
  else process.exit(code);
}, process.env.FAST ? 10 : config.sleepMs ?? 50);
`;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-runner-"));
  fs.mkdirSync(path.join(root, "dist", "container"), { recursive: true });
  fs.writeFileSync(path.join(root, "dist", "container", "worker.js"), FAKE);
  fs.writeFileSync(path.join(root, "package.json"), JSON.stringify({ type: "module" }));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function params(config: unknown, name = "s"): JobParameters {
  return { scanUri: `s3://b/incoming/u/${name}.h5`, scanVersion: "etag:e", resultPrefix: `s3://r/results/u/${name}/t/`, config: JSON.stringify(config), user: "u" };
}

function runner(name: string, o: { concurrency?: number; onStatus?: (r: LocalJobRecord) => void } = {}) {
  const trace = path.join(root, `${name}.trace`);
  const r = new LocalJobRunner({
    dir: path.join(root, name), cwd: root, concurrency: o.concurrency ?? 1, attempts: 3, retryDelayMs: 10,
    env: { AWS_REGION: "eu-west-3", TRACE: trace }, ...(o.onStatus ? { onStatus: o.onStatus } : {}),
  });
  const traces = () => fs.existsSync(trace) ? fs.readFileSync(trace, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { job: string; attempt: number; start: number; args: string[]; env: Record<string, string | null> }) : [];
  return { r, traces };
}

describe("local job runner", () => {
  it("runs the job definition's command with Batch's environment; retries exit 75 and a killed worker; succeeds", async () => {
    const { r, traces } = runner("retry");
    const job = await r.submit({ jobName: "j1", parameters: params({ exits: [75, "kill", 0] }) });
    const rec = await r.waitFor(job.jobId, 20_000);
    expect(rec.status).toBe("SUCCEEDED");
    expect(rec.attempts.map((a) => [a.exitCode, a.signal])).toEqual([[75, null], [null, "SIGKILL"], [0, null]]);
    const t = traces();
    expect(t.map((x) => x.attempt)).toEqual([1, 2, 3]);
    expect(t[0].job).toBe(job.jobId);
    expect(t[0].args).toEqual(workerArgv(params({ exits: [75, "kill", 0] })).slice(2));
    expect(t[0].env).toEqual({ region: "eu-west-3", secret: null, queue: "local" });
    expect(fs.readFileSync(rec.log, "utf8")).toMatch(/attempt 1:[\s\S]*"hello"[\s\S]*attempt 3:/);
    expect((await r.findJob("j1"))!.jobId).toBe(job.jobId);
  });

  it("exit 2 (invalid input) fails at once; three retryable failures exhaust the attempts; the FAILED event notifies like the notifier Lambda", async () => {
    const { r } = runner("fail");
    const a = await r.submit({ jobName: "bad", parameters: params({ exits: [2] }, "bad") });
    const b = await r.submit({ jobName: "flaky", parameters: params({ exits: [75, 75, 75] }, "flaky") });
    const ra = await r.waitFor(a.jobId, 20_000), rb = await r.waitFor(b.jobId, 20_000);
    expect([ra.status, ra.attempts.length]).toEqual(["FAILED", 1]);
    expect([rb.status, rb.attempts.length]).toEqual(["FAILED", 3]);
    const na = jobNotification(batchEvent(ra).detail)!;
    expect(na.kind).toBe("failed");
    expect(na.subject).toMatch(/invalid input/);
    expect(na.user).toBe("u");
    expect(na.details).toMatchObject({ scan: "s3://b/incoming/u/bad.h5", exitCode: 2, attempts: 1 });
    const nb = jobNotification(batchEvent(rb).detail)!;
    expect(nb.text).toMatch(/attempts exhausted/);
  });

  it("bounds concurrency; stop() sends SIGTERM and leaves the job for resumePending(), which runs it again", async () => {
    const { r, traces } = runner("conc", { concurrency: 1 });
    const j1 = await r.submit({ jobName: "a", parameters: params({ exits: [0], sleepMs: 300 }, "a") });
    const j2 = await r.submit({ jobName: "b", parameters: params({ exits: [0], sleepMs: 10 }, "b") });
    await r.waitFor(j2.jobId, 20_000);
    const r1 = r.get(j1.jobId)!;
    const t = traces();
    expect(t.find((x) => x.job === j2.jobId)!.start).toBeGreaterThanOrEqual(r1.attempts[0].stoppedAt!);

    const { r: r2 } = runner("stop");
    const long = await r2.submit({ jobName: "long", parameters: params({ exits: [0, 0], sleepMs: 5000 }, "long") });
    while (r2.get(long.jobId)?.status !== "RUNNING") await new Promise((res) => setTimeout(res, 20));
    await new Promise((res) => setTimeout(res, 200));
    await r2.stop(5_000);
    const stopped = r2.get(long.jobId)!;
    expect(stopped.status).toBe("RUNNABLE");
    expect(stopped.attempts[0]).toMatchObject({ exitCode: 75, stoppedByRunner: true });

    const again = new LocalJobRunner({ dir: path.join(root, "stop"), cwd: root, env: { TRACE: path.join(root, "stop.trace"), FAST: "1" } });
    expect(again.resumePending()).toEqual([long.jobId]);
    const done = await again.waitFor(long.jobId, 20_000);
    expect(done.status).toBe("SUCCEEDED");
    // the stopped attempt does not count: the worker ran as attempt 1 again
    expect(done.attempts.filter((a) => !a.stoppedByRunner)).toHaveLength(1);
  });

  it("a worker's environment carries nothing from the parent's AWS or ptyxrf settings", () => {
    const env = cleanEnv({ PATH: "/bin", AWS_PROFILE: "prod", AWS_ACCESS_KEY_ID: "AKIA", PTYXRF_TOPIC_ARN: "x", NODE_OPTIONS: "--inspect", HOME: "/h" });
    expect(env).toEqual({ PATH: "/bin", HOME: "/h" });
  });
});
