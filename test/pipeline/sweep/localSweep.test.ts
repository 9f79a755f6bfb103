/**
 * A whole sweep on this machine: s3rver on 127.0.0.1, the local job runner running the compiled worker
 * (dist/container/worker.js) as the array job's children, two at a time, then the aggregation job that
 * depends on them. Two simulated scans (with ground truth) x three configurations, plus a corrupt scan
 * whose three tasks fail (recorded, exit 0) without sinking the sweep; the summary ranks 1..3 per scan.
 */
import fs from "node:fs";
import path from "node:path";
import { startLoopbackS3, type LoopbackS3 } from "../loopbackS3.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Server } from "../../../src/pipeline/local/s3server.js";
import type { LocalJobRecord } from "../../../src/pipeline/local/runner.js";
import type { SweepSummaryFile } from "../../../src/pipeline/sweep/aggregate.js";
import { planSweep, stageSweep } from "../../../src/pipeline/sweep/plan.js";
import { runSweepLocally } from "../../../src/pipeline/sweep/runLocal.js";
import { loadSweepSpec } from "../../../src/pipeline/sweep/spec.js";
import { locationIn, readTaskList, SWEEP_CSV, SWEEP_JSON, SWEEP_REPORT, TASK_FAILURE } from "../../../src/pipeline/sweep/tasks.js";
import type { S3Transfer } from "../../../src/pipeline/worker/transfer.js";
import { writer } from "../../../src/scan/h5runtime.js";
import { writeScan, writeTruth } from "../../../src/scan/write.js";
import { simulate } from "../../../src/sim/simulate.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const RESULTS = "ptyxrf-results";
let dir: string;
let server: S3Server;
let transfer: S3Transfer;
let loopback: LoopbackS3;
let corruptBytes: Buffer;

beforeAll(async () => {
  loopback = await startLoopbackS3("sweep", ["ptyxrf-scans", RESULTS]);
  ({ dir, server, transfer } = loopback);
  await writer();
  for (const seed of [1, 2]) {
    const sim = simulate({ preset: "small", seed });
    fs.mkdirSync(path.join(dir, "scans"), { recursive: true });
    await writeScan(path.join(dir, "scans", `s${seed}.h5`), sim.header, sim.frames, { compression: "none" });
    await writeTruth(path.join(dir, "scans", `s${seed}.truth.h5`), sim.truth);
  }
  corruptBytes = Buffer.from("not an HDF5 file: a scan that was cut off during the copy\n");
  fs.writeFileSync(path.join(dir, "scans", "corrupt.h5"), corruptBytes);
  fs.writeFileSync(path.join(dir, "sweep.yaml"), `
name: tiny
scans: [scans/s1.h5, scans/s2.h5, scans/corrupt.h5]
truth: { scans/s1.h5: scans/s1.truth.h5, scans/s2.h5: scans/s2.truth.h5 }
base: { iterations: 8, threads: 1 }
grid:
  weights.alpha: [0.5, 1.5]
list:
  - { noise.ptycho: poisson, weights.strategy: fixed }
`);
}, 60_000);

afterAll(async () => {
  await loopback?.close();
});

describe("a local sweep", () => {
  it("runs 3 scans x 3 configurations as one array job + an aggregation: ranks per scan, the corrupt scan's tasks failed with the reason", async () => {
    const { spec, dir: specDir, raw } = loadSweepSpec(path.join(dir, "sweep.yaml"));
    const plan = await planSweep(spec, raw, specDir, transfer);
    expect(plan.tasks).toHaveLength(9);
    const { list, tasksUri } = await stageSweep(plan, { transfer, resultsBucket: RESULTS, user: "alice", profile: "local", sweepId: "20261121-000000-abcd" });
    expect(tasksUri).toBe("s3://ptyxrf-results/results/alice/sweeps/tiny-20261121-000000-abcd/tasks.json");
    const stored = await readTaskList(transfer, tasksUri);
    expect(stored.tasks.map((t) => t.out)).toEqual(list.tasks.map((t) => `${list.prefix}tasks/${t.id}/`));
    expect(stored.tasks[0]).toMatchObject({ scan: "scans/s1.h5", scanLabel: "s1", scanUri: `${list.prefix}inputs/000-s1.h5`, truthUri: `${list.prefix}inputs/001-s1.truth.h5` });
    expect(stored.tasks[0].scanVersion).toMatch(/^etag:[0-9a-f]{32}$/);

    const statuses: LocalJobRecord[] = [];
    const run = await runSweepLocally(list, tasksUri, { endpoint: server.endpoint, dataDir: path.join(dir, "local"), parallel: 2, retryDelayMs: 10, onStatus: (r) => statuses.push(structuredClone(r)) });
    const { tasks, aggregate } = await run.done;
    expect(run.runner.concurrency).toBe(2);
    // every child exited 0 (failures recorded), so the array job and the aggregation that depends on it succeed
    expect(tasks.status).toBe("SUCCEEDED");
    expect(aggregate.status).toBe("SUCCEEDED");
    const children = run.runner.list().filter((r) => r.parentId === tasks.jobId).sort((a, b) => a.arrayIndex! - b.arrayIndex!);
    expect(children.map((c) => [c.arrayIndex, c.status, c.attempts.map((a) => a.exitCode)])).toEqual(Array.from({ length: 9 }, (_, i) => [i, "SUCCEEDED", [0]]));
    // at most two children at once; the aggregation only after the last child
    const running = statuses.filter((r) => r.arrayIndex !== undefined && r.status === "RUNNING").map((r) => r.attempts[0].startedAt);
    const stopped = children.map((c) => c.attempts[0].stoppedAt!);
    for (const t of running) expect(running.filter((s) => s <= t).length - stopped.filter((s) => s <= t).length).toBeLessThanOrEqual(2);
    expect(aggregate.attempts[0].startedAt).toBeGreaterThanOrEqual(Math.max(...stopped));
    // each child read its own task: its AWS_BATCH_JOB_ARRAY_INDEX
    for (const c of children) expect(fs.readFileSync(c.log, "utf8")).toContain(`"message":"sweep task","sweep":"tiny-20261121-000000-abcd","task":"${list.tasks[c.arrayIndex!].id}","index":${c.arrayIndex}`);

    const summary = (await transfer.getJson<SweepSummaryFile>(locationIn(list.prefix, SWEEP_JSON)))!;
    expect(summary.counts).toEqual({ tasks: 9, succeeded: 6, failed: 3, missing: 0 });
    expect(summary.rankBy).toEqual({ metric: "object_rel_error", order: "min" }); // truth present, no rankBy given
    for (const label of ["s1", "s2"]) {
      const rows = summary.tasks.filter((t) => t.scanLabel === label);
      expect(rows.map((t) => t.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
      expect(rows.map((t) => t.rank).sort()).toEqual([1, 2, 3]);
      const byRank = [...rows].sort((a, b) => a.rank! - b.rank!);
      expect(byRank[0].metrics.object_rel_error).toBeLessThanOrEqual(byRank[1].metrics.object_rel_error);
      expect(byRank[1].metrics.object_rel_error).toBeLessThanOrEqual(byRank[2].metrics.object_rel_error);
      for (const t of rows) {
        expect(t.metrics.object_rel_error).toBeGreaterThan(0);
        expect(t.metrics.object_rel_error).toBeLessThan(1);
        expect(t.metrics.final_loss).toBeGreaterThan(0);
        expect(t.metrics.iterations).toBe(8);
        expect(Object.keys(t.metrics)).toEqual(expect.arrayContaining(["object_cpcc", "Fe_rel_error", "Zn_rel_error", "weight_ptycho", "wall_s"]));
      }
      expect(summary.best.find((b) => b.scanLabel === label)).toMatchObject({ task: byRank[0].id, value: byRank[0].metrics.object_rel_error });
    }
    const failed = summary.tasks.filter((t) => t.scanLabel === "corrupt");
    expect(failed.map((t) => [t.status, t.rank])).toEqual([["failed", undefined], ["failed", undefined], ["failed", undefined]]);
    for (const t of failed) expect(t.error).toMatch(/^invalid-input: .*expected an HDF5 file.*found no HDF5 signature/);
    const record = await transfer.getJson<{ reason: string; exitCode: number; attempt: number }>(locationIn(failed[0].out, TASK_FAILURE));
    expect(record).toMatchObject({ reason: "invalid-input", exitCode: 2, attempt: 1 });

    const csv = Buffer.from((await transfer.getBytes(locationIn(list.prefix, SWEEP_CSV)))!).toString("utf8").trim().split("\n");
    expect(csv).toHaveLength(10);
    expect(csv[0]).toMatch(/^index,task,scan,status,rank,weights\.alpha,noise\.ptycho,weights\.strategy,final_loss,/);
    expect(csv[0]).toContain(",object_rel_error,");
    expect(csv[1]).toMatch(/^0,t000,scans\/s1\.h5,succeeded,[123],0\.5,,,/);
    expect(csv[7]).toMatch(/^6,t006,scans\/corrupt\.h5,failed,,0\.5,/);
    const html = Buffer.from((await transfer.getBytes(locationIn(list.prefix, SWEEP_REPORT)))!).toString("utf8");
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    expect(html).toContain("tiny-20261121-000000-abcd");
    expect(html).toContain("weights.alpha");

    // the user's scan was only read
    expect(fs.readFileSync(path.join(dir, "scans", "corrupt.h5")).equals(corruptBytes)).toBe(true);
  });
});
