/**
 * Archival reprocessing against s3rver on 127.0.0.1: the scans under a prefix, minus those with a complete
 * run (manifest.json) of the same config; another config's run or a partial run (no manifest) does not
 * count; --max-jobs, --since; the GPU-hour estimate and its basis; the task list that submits the rest with
 * the sweep machinery, each run into its scan's own results folder.
 */
import fs from "node:fs";
import path from "node:path";
import { startLoopbackS3, type LoopbackS3 } from "../loopbackS3.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import { S3Server } from "../../../src/pipeline/local/s3server.js";
import { stackFile, type StackInfo } from "../../../src/pipeline/local/layout.js";
import { configHash } from "../../../src/pipeline/outputs.js";
import { BENCH_PIXELS, estimateHours } from "../../../src/pipeline/reprocess/estimate.js";
import { planReprocess, stageReprocess } from "../../../src/pipeline/reprocess/plan.js";
import { reprocessTag, runsFolderOf } from "../../../src/pipeline/reprocess/runs.js";
import { MemorySubmitter } from "../../../src/pipeline/submit/submitter.js";
import { submitSweepJobs } from "../../../src/pipeline/sweep/submit.js";
import { readTaskList } from "../../../src/pipeline/sweep/tasks.js";
import type { S3Transfer } from "../../../src/pipeline/worker/transfer.js";
import { resolveConfig } from "../../../src/solver/config.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const SCANS = "ptyxrf-scans", RESULTS = "ptyxrf-results";
const SOURCE = `s3://${SCANS}/incoming/u/archive/`;
let dir: string;
let dataDir: string;
let server: S3Server;
let transfer: S3Transfer;
let loopback: LoopbackS3;
const config = resolveConfig({ iterations: 50 });

beforeAll(async () => {
  loopback = await startLoopbackS3("reprocess", [SCANS, RESULTS]);
  ({ dir, server, transfer } = loopback);
  for (const n of [1, 2, 3, 4, 5]) await transfer.putBytes({ bucket: SCANS, key: `incoming/u/archive/s${n}.h5` }, Buffer.alloc(1000 * n));
  await transfer.putBytes({ bucket: SCANS, key: "incoming/u/archive/notes.txt" }, "not a scan");
  const run = (scan: string, tag: string, name: string, value: unknown) => transfer.putJson({ bucket: RESULTS, key: `results/u/archive/${scan}/${tag}/${name}` }, value);
  await run("s1", "00000000000000a1", "manifest.json", { complete: true, config_hash: configHash(config) });
  // the GPU image runs every job with engine "auto": the same config
  await run("s2", "00000000000000a2", "manifest.json", { complete: true, config_hash: configHash({ ...config, engine: "auto" }) });
  await run("s3", "00000000000000a3", "manifest.json", { complete: true, config_hash: configHash(resolveConfig({ iterations: 200 })) });
  await run("s4", "00000000000000a4", "progress.json", { state: "running" });
  // a deeper folder (another scan's runs) is not s1's
  await run("s5/sub", "00000000000000a5", "manifest.json", { complete: true, config_hash: configHash(config) });
  // the CLI's local profile finds "the stack" through stack.json: this test's server
  dataDir = path.join(dir, "local");
  fs.mkdirSync(dataDir, { recursive: true });
  const info: StackInfo = { pid: process.pid, endpoint: server.endpoint, port: server.port, dataDir, scansBucket: SCANS, resultsBucket: RESULTS, startedAt: new Date().toISOString(), ptyxrf: "test" };
  fs.writeFileSync(stackFile(dataDir), JSON.stringify(info));
}, 60_000);

afterAll(async () => {
  await loopback?.close();
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), isTTY: false });
  return { code, out, err };
}

describe("ptyxrf reprocess", () => {
  it("--dry-run over 5 scans, 2 processed with the same config: lists the other 3 (another config's run and a partial run included)", async () => {
    const r = await cli(["reprocess", SOURCE, "--dry-run", "--iterations", "50", "--data-dir", dataDir, "--user", "u"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`5 scans under ${SOURCE}: 3 to process, 2 already processed with this config`);
    const line = (scan: string) => r.out.split("\n").find((l) => l.startsWith(`incoming/u/archive/${scan}.h5`)) ?? "";
    expect(line("s1")).toMatch(/done with this config \(00000000000000a1\)\s+skip$/);
    expect(line("s2")).toMatch(/done with this config \(00000000000000a2\)\s+skip$/);
    expect(line("s3")).toMatch(/1 run with another config\s+would process$/);
    expect(line("s4")).toMatch(/partial run only \(no manifest\)\s+would process$/);
    expect(line("s5")).toMatch(/never processed\s+would process$/);
    expect(r.out).not.toContain("notes.txt");
    expect(r.out).toMatch(/estimate: [\d.]+ GPU-hours for 3 scans \(0\.0 MB\) x 50 iterations\. Basis: detector pixels ~ bytes \/ 4/);
    expect(r.out).toContain("no GPU figure has been measured, so pass --throughput MS");
    expect(r.out).toContain("dry run: nothing written or submitted");
    const { objects } = await transfer.list(RESULTS, "results/u/reprocess/");
    expect(objects).toEqual([]);
  });

  it("--max-jobs caps the scans; --since filters on LastModified; the same config in another engine counts as done", async () => {
    const capped = await planReprocess({ transfer, source: SOURCE, resultsBucket: RESULTS, config, user: "u", maxJobs: 2 });
    expect(capped.toSubmit.map((s) => s.key)).toEqual(["incoming/u/archive/s3.h5", "incoming/u/archive/s4.h5"]);
    expect(capped.overCap).toBe(1);
    const future = await planReprocess({ transfer, source: SOURCE, resultsBucket: RESULTS, config, user: "u", since: new Date(Date.now() + 3_600_000) });
    expect(future.scans).toEqual([]);
    const other = await planReprocess({ transfer, source: SOURCE, resultsBucket: RESULTS, config: resolveConfig({ iterations: 200, engine: "auto" }), user: "u" });
    expect(other.scans.find((s) => s.key.endsWith("s3.h5"))!.state.status).toBe("processed");
    expect(other.toSubmit.map((s) => s.key.split("/").pop())).toEqual(["s1.h5", "s2.h5", "s4.h5", "s5.h5"]);
  });

  it("stages the rest as a task list (each run into the scan's own results folder) and submits it as one array job + an aggregation", async () => {
    const plan = await planReprocess({ transfer, source: SOURCE, resultsBucket: RESULTS, config, user: "u" });
    const [{ list, tasksUri }] = await stageReprocess(plan, { transfer, resultsBucket: RESULTS, user: "u", profile: "local", name: "archive" });
    const stored = await readTaskList(transfer, tasksUri);
    expect(stored.purpose).toBe("reprocess");
    expect(tasksUri).toMatch(/^s3:\/\/ptyxrf-results\/results\/u\/reprocess\/archive-\d{8}-\d{6}-[0-9a-f]{4}\/tasks\.json$/);
    expect(stored.tasks.map((t) => t.scan.split("/").pop())).toEqual(["s3.h5", "s4.h5", "s5.h5"]);
    const t = stored.tasks[2];
    expect(t.out).toBe(`s3://${RESULTS}/results/u/archive/s5/${reprocessTag(SCANS, "incoming/u/archive/s5.h5", t.scanVersion, config)}/`);
    expect(t.scanVersion).toMatch(/^etag:/);
    expect(t.config).toEqual(config);
    const submitter = new MemorySubmitter();
    await submitSweepJobs(submitter, list, tasksUri);
    expect(submitter.submitted.map((j) => [j.arraySize, j.command?.slice(2), j.dependsOn])).toEqual([
      [3, ["--task-list", tasksUri], undefined],
      [undefined, ["--aggregate", list.prefix], ["local-job-1"]],
    ]);
  });

  it("where runs live; the estimate's arithmetic", () => {
    expect(runsFolderOf(SCANS, "incoming/alice/2026/run-17.h5", "u")).toBe("results/alice/2026/run-17/");
    expect(runsFolderOf("archive-2019", "beamline/2019/run-3.hdf5", "ops")).toBe("results/ops/archive-2019/beamline/2019/run-3/");
    // one bench-sized scan (1,638,400 detector pixels of 4 bytes), 3600 iterations at 1000 ms: one hour
    const e = estimateHours([{ bytes: 4 * BENCH_PIXELS }], 3600, 1000);
    expect(e.hours).toBeCloseTo(1, 10);
    expect(e.basis).toBe("given");
    expect(estimateHours([{ bytes: 4 * BENCH_PIXELS }], 1).msPerBenchIteration).toBe(39);
  });

  it("bad arguments are usage errors", async () => {
    expect((await cli(["reprocess", "/local/folder", "--dry-run", "--data-dir", dataDir])).err).toMatch(/expected one s3:\/\/BUCKET\/PREFIX/);
    const since = await cli(["reprocess", SOURCE, "--since", "last tuesday", "--data-dir", dataDir]);
    expect([since.code, since.err]).toEqual([2, expect.stringMatching(/--since expects a date \(ISO 8601, e\.g\. 2026-01-01\), got "last tuesday"/)]);
  });
});
