/**
 * The command line against the local stack: `submit --wait`, `status`, `fetch`, `local up` in the
 * foreground (a separate process, stopped with SIGINT), `local demo` (npm run demo), and their exit codes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stackFile } from "../../src/pipeline/local/layout.js";
import { startLocalStack, type LocalStack } from "../../src/pipeline/local/stack.js";
import { reader, writer } from "../../src/scan/h5runtime.js";
import { writeScan, writeTruth } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { BIN, cli } from "../cli/run.js";
import { rewriteH5 } from "../scan/fixtures.js";

let dir: string, data: string;
let stack: LocalStack;
let scan: string, truth: string, bad: string, config: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-cli-"));
  await Promise.all([reader(), writer()]);
  const sim = simulate({ preset: "small", seed: 4 });
  scan = path.join(dir, "scan.h5");
  truth = path.join(dir, "truth.h5");
  bad = path.join(dir, "bad.h5");
  config = path.join(dir, "config.json");
  await writeScan(scan, sim.header, sim.frames, { compression: "none" });
  await writeTruth(truth, sim.truth);
  await rewriteH5(scan, bad, { drop: ["/xrf/elemental_maps"] });
  fs.writeFileSync(config, JSON.stringify({ iterations: 30 }));
  data = path.join(dir, "local");
  stack = await startLocalStack({ dataDir: data });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("ptyxrf submit / status / fetch (local profile)", () => {
  let runId = "";

  it("submit --wait: uploads, prints the run id, follows the run and prints the summary against the truth", async () => {
    const r = await cli("submit", scan, "--data-dir", data, "--user", "carol", "--name", "2026/run-1", "--config", config, "--truth", truth, "--wait");
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    runId = /^run ([0-9a-f]{16})$/m.exec(r.stdout)![1];
    expect(r.stdout).toContain(`s3://ptyxrf-scans/incoming/carol/2026/run-1.h5`);
    expect(r.stdout).toContain(`s3://ptyxrf-results/results/carol/2026/run-1/${runId}/`);
    expect(r.stdout).toMatch(/config: metadata; truth: incoming\/carol\/2026\/run-1\.truth/);
    expect(r.stdout).toMatch(/joint, 30 iterations/);
    expect(r.stdout).toMatch(/object, relative error\s+0\.\d{4}\s+0\.\d{4}/);
    expect(r.stdout).toMatch(/Fe map, relative error/);
    expect(r.stderr).toMatch(/notification \[submitted\]/);
  });

  it("status RUN and status (all runs); fetch RUN --out DIR verifies every file against the manifest", async () => {
    const one = await cli("status", runId, "--data-dir", data);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`run ${runId}: succeeded`));
    expect(one.stdout).toMatch(/job\s+\S+ SUCCEEDED; attempts: #1 0/);
    const json = JSON.parse((await cli("status", runId, "--data-dir", data, "--json")).stdout) as { state: string; metrics: { iterations: number } };
    expect([json.state, json.metrics.iterations]).toEqual(["succeeded", 30]);
    const all = await cli("status", "--data-dir", data);
    expect(all.stdout).toMatch(new RegExp(`${runId}\\s+succeeded\\s+incoming/carol/2026/run-1.h5`));
    const out = path.join(dir, "fetched");
    const f = await cli("fetch", runId, "--out", out, "--data-dir", data);
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/every file matches manifest.json/);
    expect(fs.existsSync(path.join(out, "result.h5")) && fs.existsSync(path.join(out, "phase.png"))).toBe(true);
    expect(fs.existsSync(path.join(out, "_checkpoint"))).toBe(false);
  });

  it("a rejected upload: submit --wait exits 2 with every problem; fetch exits 2 with the report", async () => {
    const r = await cli("submit", bad, "--data-dir", data, "--user", "carol", "--wait");
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/rejected\s+\d+ problems?/);
    expect(r.stdout).toMatch(/\/xrf\/elemental_maps/);
    expect(r.stdout).toMatch(/The uploaded file is unchanged/);
    const id = /^run ([0-9a-f]{16})$/m.exec(r.stdout)![1];
    const f = await cli("fetch", id, "--out", path.join(dir, "rejected"), "--data-dir", data);
    expect(f.code).toBe(2);
    expect(fs.existsSync(path.join(dir, "rejected", "rejection.json"))).toBe(true);
  });

  it("exit codes: a bad config (2, nothing uploaded), an aws profile without buckets (2), no local stack (1), an unknown run (2)", async () => {
    const cfg = path.join(dir, "bad.json");
    fs.writeFileSync(cfg, JSON.stringify({ iterations: -3, mode: "nope" }));
    const c = await cli("submit", scan, "--config", cfg, "--data-dir", data);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/iterations/);
    const aws = await cli("submit", scan, "--profile", "aws");
    expect(aws.code).toBe(2);
    expect(aws.stderr).toMatch(/PTYXRF_SCANS_BUCKET/);
    const none = await cli("status", "--data-dir", path.join(dir, "nothing-here"));
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no local stack is running .*npx ptyxrf local up/);
    const unknown = await cli("fetch", "0123456789abcdef", "--out", path.join(dir, "x"), "--data-dir", data);
    expect(unknown.code).toBe(2);
  });
});

describe("ptyxrf local up / local demo", () => {
  it("local up runs the stack in the foreground until SIGINT; submit finds it through its data directory", async () => {
    const d = path.join(dir, "up");
    const child: ChildProcess = spawn(process.execPath, [BIN, "local", "up", "--data-dir", d, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (b: Buffer) => (out += b));
    child.stderr!.on("data", (b: Buffer) => (out += b));
    try {
      const t0 = Date.now();
      while (!out.includes("ptyxrf local stack running")) {
        if (Date.now() - t0 > 20_000) throw new Error(`local up did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(out).toMatch(/S3 endpoint\s+http:\/\/127\.0\.0\.1:\d+/);
      const r = await cli("submit", scan, "--data-dir", d, "--user", "dave", "--config", config, "--wait");
      expect(r.code).toBe(0);
      const wait = Date.now();
      while (!out.includes("[succeeded]") && Date.now() - wait < 5000) await new Promise((res) => setTimeout(res, 50));
      expect(out).toMatch(/\[submitted\] ptyxrf: submitted scan\.h5/);
      expect(out).toMatch(/\[succeeded\] ptyxrf: finished scan\.h5/);
    } finally {
      const code = await new Promise<number | null>((resolve) => {
        child.once("close", resolve);
        child.kill("SIGINT");
      });
      expect(code).toBe(0);
    }
    expect(out).toMatch(/SIGINT: stopping/);
    expect(fs.existsSync(stackFile(d))).toBe(false);
  });

  it("local demo (npm run demo): simulate, stack, submit, follow, fetch, summary with the previews, stack stopped", async () => {
    const out = path.join(dir, "demo");
    const r = await cli("local", "demo", "--out", out, "--data-dir", path.join(dir, "demo-local"), "--iterations", "30");
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1\. simulate[\s\S]*2\. local stack[\s\S]*3\. submit[\s\S]*4\. validate[\s\S]*5\. reconstruct\s+joint, 30 iterations[\s\S]*6\. notify\s+succeeded[\s\S]*7\. fetch.*every one matches manifest\.json/);
    expect(r.stdout).toMatch(/object, relative error\s+0\.\d{4}\s+0\.\d{4}/);
    expect(r.stdout).toMatch(/phase\.png\s+object phase/);
    expect(r.stdout).toMatch(/overlay_Zn\.png\s+Zn in colour over the phase/);
    expect(r.stdout).toMatch(/demo done in [\d.]+ s \(local stack stopped\)/);
    const runId = /-> run ([0-9a-f]{16})/.exec(r.stdout)![1];
    expect(fs.existsSync(path.join(out, "results", runId, "phase.png"))).toBe(true);
    expect(r.stdout).toMatch(/Report \(one self-contained page[^\n]*\n\s+\S+report\.html/);
    expect(fs.readFileSync(path.join(out, "results", runId, "report.html"), "utf8")).toMatch(/^<!DOCTYPE html>/i);
    expect(fs.existsSync(stackFile(path.join(dir, "demo-local")))).toBe(false);
  });
});
