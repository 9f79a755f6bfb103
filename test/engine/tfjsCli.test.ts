/** `ptyxrf reconstruct --engine tfjs | auto` through the installed command (tfjs's CPU backend here). */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, cli } from "../cli/run.js";
import { tmpDir } from "../scan/fixtures.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  const r = await cli("simulate", "--preset", "small", "--seed", "3", "--out", dir);
  expect(r.code).toBe(0);
});
const scan = () => path.join(dir, "scan.h5");
const truth = () => path.join(dir, "truth.h5");
const metrics = (out: string) => JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));

describe("ptyxrf reconstruct --engine", () => {
  it("tfjs: runs on tfjs's CPU backend and records engine and device", () => {
    const out = path.join(dir, "tfjs");
    const r = bin("reconstruct", scan(), "--out", out, "--iterations", "4", "--truth", truth(), "--engine", "tfjs");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/engine\s+tfjs \(tfjs-cpu: pure-JS CPU backend/);
    expect(r.stderr).toMatch(/engine tfjs: tfjs-cpu: pure-JS CPU backend.*; @tensorflow\/tfjs-node-gpu is not installed/);
    expect(r.stdout).toMatch(/object error\s+0\.\d+/);
    expect(metrics(out)).toMatchObject({ engine: "tfjs", device: expect.stringMatching(/^tfjs-cpu/), iterations: 4 });
    expect(fs.existsSync(path.join(out, "manifest.json"))).toBe(true);
  });

  it("auto: says which engine ran and why (no tfjs-node-gpu here: the cpu engine)", () => {
    const out = path.join(dir, "auto");
    const r = bin("reconstruct", scan(), "--out", out, "--iterations", "2", "--engine", "auto", "--threads", "2");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/engine auto: cpu \(cpu: 2 threads\); no GPU: @tensorflow\/tfjs-node-gpu is not installed/);
    expect(r.stdout).toMatch(/engine\s+cpu \(cpu: 2 threads \(auto: no GPU/);
    expect(metrics(out)).toMatchObject({ engine: "cpu", device: "cpu: 2 threads (auto: no GPU: @tensorflow/tfjs-node-gpu is not installed)" });
  });

  it("an unknown engine is a usage error naming the choices", async () => {
    const r = await cli("reconstruct", scan(), "--out", path.join(dir, "x"), "--engine", "gpu");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/auto, cpu, tfjs, reference/);
  });
});
