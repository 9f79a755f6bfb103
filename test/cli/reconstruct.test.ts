import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tmpDir } from "../scan/fixtures.js";
import { bin, cli } from "./run.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  const r = await cli("simulate", "--preset", "small", "--seed", "2", "--link", "linear", "--noise", "gaussian", "--noise-level", "0.03", "--out", dir);
  expect(r.code).toBe(0);
});
const scan = () => path.join(dir, "scan.h5");
const truth = () => path.join(dir, "truth.h5");

describe("ptyxrf reconstruct", () => {
  it("runs the documented form and writes the outputs (installed command, plain progress lines)", () => {
    const out = path.join(dir, "run");
    const r = bin("reconstruct", scan(), "--out", out, "--mode", "joint", "--iterations", "20", "--truth", truth(), "--engine", "cpu", "--threads", "2");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/iteration 1\/20 {2}loss .* ms\/it {2}ETA/);
    expect(r.stderr).toMatch(/iteration 20\/20/);
    expect(r.stdout).toMatch(/object error\s+0\.\d+ \(cPCC 0\.\d+\)/);
    expect(r.stdout).toMatch(/engine\s+cpu \(cpu: 2 threads\)/);
    for (const f of ["result.h5", "metrics.json", "phase.png", "manifest.json"]) expect(fs.existsSync(path.join(out, f))).toBe(true);
  });

  it("bad input exits 2 with the reason", async () => {
    const notH5 = path.join(dir, "x.h5");
    fs.writeFileSync(notH5, "hello");
    const r1 = await cli("reconstruct", notH5, "--out", path.join(dir, "x"));
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/\[not-hdf5\]/);
    const cfg = path.join(dir, "c.json");
    fs.writeFileSync(cfg, JSON.stringify({ noise: { ptycho: "laplace" } }));
    const r2 = await cli("reconstruct", scan(), "--out", path.join(dir, "y"), "--config", cfg);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/"noise\.ptycho" must be one of gaussian, poisson, weighted/);
    expect((await cli("reconstruct", scan(), "--out", path.join(dir, "z"), "--mode", "both")).code).toBe(2);
    expect((await cli("reconstruct", scan())).stderr).toMatch(/--out DIR is required/);
  });
});

describe("ptyxrf compare", () => {
  it("--json has the documented shape and joint beats the separate baselines", async () => {
    const r = await cli("compare", scan(), "--truth", truth(), "--iterations", "40", "--json");
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c.iterations).toBe(40);
    for (const m of ["joint", "ptycho"]) {
      expect(c.object[m].rel_error).toBeGreaterThan(0);
      expect(c.object[m].cpcc).toBeGreaterThan(0);
    }
    expect(Object.keys(c.elements).sort()).toEqual(["Fe", "Zn"]);
    expect(c.object.joint.rel_error).toBeLessThan(c.object.ptycho.rel_error);
    for (const el of ["Fe", "Zn"]) expect(c.elements[el].joint.rel_error).toBeLessThan(c.elements[el].xrf.rel_error);
  });

  it("prints a table by default", async () => {
    const r = await cli("compare", scan(), "--truth", truth(), "--iterations", "5");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/method\s+object error\s+object cPCC\s+Fe error\s+Zn error\s+final loss\s+time/);
    expect(r.stdout).toMatch(/^joint \/ separate/m);
    expect((await cli("compare", scan())).stderr).toMatch(/--truth TRUTH\.h5 is required/);
  });
});
