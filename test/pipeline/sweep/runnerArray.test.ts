/**
 * The local job runner as Batch runs a sweep: an array job's children (AWS_BATCH_JOB_ARRAY_INDEX, the
 * command override, PTYXRF_JOB_ATTEMPTS), the parent SUCCEEDED only when every child did, and a job that
 * depends on it PENDING until then, FAILED when the array failed (Batch's rule, which is why a sweep child
 * records its task's failure and exits 0). A fake worker script stands in for dist/container/worker.js.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childJobId, LocalJobRunner } from "../../../src/pipeline/local/runner.js";

let root: string;
/** Exits with the code listed for its array index (or 0); logs its arguments and environment. */
const FAKE = `
import fs from "node:fs";
const codes = JSON.parse(process.env.CODES ?? "{}");
const index = process.env.AWS_BATCH_JOB_ARRAY_INDEX;
fs.appendFileSync(process.env.TRACE, JSON.stringify({ job: process.env.AWS_BATCH_JOB_ID, index: index ?? null, attempts: process.env.PTYXRF_JOB_ATTEMPTS, args: process.argv.slice(2) }) + "\\n");
process.exit(index === undefined ? 0 : codes[index] ?? 0);
`;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-array-"));
  fs.mkdirSync(path.join(root, "dist", "container"), { recursive: true });
  fs.writeFileSync(path.join(root, "dist", "container", "worker.js"), FAKE);
  fs.writeFileSync(path.join(root, "package.json"), JSON.stringify({ type: "module" }));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const parameters = { scanUri: "s3://r/tasks.json", scanVersion: "none", resultPrefix: "s3://r/p/", config: "{}", user: "u" };

function runner(name: string, codes: Record<number, number>) {
  const trace = path.join(root, `${name}.trace`);
  const r = new LocalJobRunner({ dir: path.join(root, name), cwd: root, concurrency: 2, attempts: 2, retryDelayMs: 10, env: { TRACE: trace, CODES: JSON.stringify(codes) } });
  const traces = () => fs.readFileSync(trace, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { job: string; index: string | null; attempts: string; args: string[] });
  return { r, traces };
}

describe("array jobs and dependencies in the local runner", () => {
  it("runs every child with its index and the command override; the dependent job runs after all of them", async () => {
    const { r, traces } = runner("ok", {});
    const arr = await r.submit({ jobName: "sweep", parameters, command: ["node", "dist/container/worker.js", "--task-list", "Ref::scanUri"], arraySize: 3 });
    const agg = await r.submit({ jobName: "agg", parameters, command: ["node", "dist/container/worker.js", "--aggregate", "Ref::resultPrefix"], dependsOn: [arr.jobId] });
    const done = await r.waitFor(agg.jobId, 20_000);
    expect(done.status).toBe("SUCCEEDED");
    expect(r.get(arr.jobId)).toMatchObject({ status: "SUCCEEDED", arrayProperties: { size: 3 }, statusReason: "all 3 child jobs succeeded" });
    const t = traces();
    expect(t.slice(0, 3).map((x) => x.index).sort()).toEqual(["0", "1", "2"]);
    expect(t.slice(0, 3).map((x) => x.job).sort()).toEqual([0, 1, 2].map((i) => childJobId(arr.jobId, i)));
    expect(t[0]).toMatchObject({ attempts: "2", args: ["--task-list", "s3://r/tasks.json"] });
    expect(t[3]).toEqual({ job: agg.jobId, index: null, attempts: "2", args: ["--aggregate", "s3://r/p/"] });
  });

  it("a failed child fails the array job, and the job depending on it fails without running", async () => {
    const { r, traces } = runner("fail", { 1: 2 });
    const arr = await r.submit({ jobName: "sweep", parameters, arraySize: 2 });
    const agg = await r.submit({ jobName: "agg", parameters, dependsOn: [arr.jobId] });
    const done = await r.waitFor(agg.jobId, 20_000);
    expect(done).toMatchObject({ status: "FAILED", statusReason: `dependency ${arr.jobId} failed`, attempts: [] });
    expect(r.get(arr.jobId)).toMatchObject({ status: "FAILED", statusReason: "1 of 2 child jobs failed" });
    expect(traces().map((x) => x.index).sort()).toEqual(["0", "1"]);
  });
});
