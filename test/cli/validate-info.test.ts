import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeScan } from "../../src/scan/write.js";
import { rewriteH5, smallScan, tmpDir } from "../scan/fixtures.js";
import { bin, cli } from "./run.js";

const dir = tmpDir();
const good = path.join(dir, "good.h5");
const bad = path.join(dir, "bad.h5");

beforeAll(async () => {
  const { header, frames } = smallScan();
  await writeScan(good, header, frames, { compression: "gzip" });
  const broken = smallScan({ dtype: "float32", raster: false });
  broken.header.metadata.energy_keV = 10_000; // eV instead of keV
  const f0 = broken.frames.frames;
  broken.frames.frames = (s, c) => { const a = f0(s, c); if (s === 0) a[3] = -5; return a; };
  const almost = path.join(dir, "almost.h5");
  await writeScan(almost, broken.header, broken.frames);
  // a Zn map of the wrong length
  await rewriteH5(almost, bad, { put: { "/xrf/elemental_maps/Zn": { data: new Float32Array(7), shape: [7], dtype: "<f" } } });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("ptyxrf validate", () => {
  it("exits 0 on a valid scan and says how much it read", async () => {
    const r = await cli("validate", good);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/good\.h5: valid/);
    expect(r.stdout).toMatch(/read .* of .* in \d+ request/);
    expect(r.stderr).toBe("");
  });

  it("exits 2 with every problem on stderr", async () => {
    const r = await cli("validate", bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[implausible-value\] \/metadata@energy_keV: .*found 10000 \(looks like eV/);
    expect(r.stderr).toMatch(/\[npos-mismatch\] \/xrf\/elemental_maps\/Zn/);
    expect(r.stderr).toMatch(/\[negative-counts\] \/ptychography\/diffraction/);
    expect(r.stderr).toMatch(/INVALID, 3 error\(s\)/);
  });

  it("--json prints the machine-readable report", async () => {
    const r = await cli("validate", bad, "--json");
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.errors.map((e: { code: string }) => e.code).sort()).toEqual(["implausible-value", "negative-counts", "npos-mismatch"]);
    expect(report.read.fileBytes).toBe(fs.statSync(bad).size);
  });

  it("usage errors exit 2 and point to --help", async () => {
    const r = await cli("validate");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected exactly one FILE\.h5[\s\S]*--help/);
    expect((await cli("validate", path.join(dir, "nope.h5"))).stderr).toMatch(/no such file/);
    expect((await cli("validate", good, "--bogus")).code).toBe(2);
    expect((await cli("frobnicate")).code).toBe(2);
  });
});

describe("ptyxrf info", () => {
  it("summarises a valid scan", async () => {
    const r = await cli("info", good);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/positions\s+20 \(raster 4 x 5\), median step 150 nm/);
    expect(r.stdout).toMatch(/diffraction\s+20 x 16 x 16 uint32, deflate/);
    expect(r.stdout).toMatch(/energy\s+10 keV \(wavelength 0\.124 nm\)/);
    expect(r.stdout).toMatch(/Fe\s+10\s+19\.5\s+29/);
    const j = JSON.parse((await cli("info", good, "--json")).stdout);
    expect(j.npos).toBe(20);
    expect(j.objectPixel_m).toBeCloseTo((12.398419843320026e-10 / 10) * 2 / (16 * 75e-6), 15);
  });

  it("refuses an invalid scan with the validator's messages", async () => {
    const r = await cli("info", bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/npos-mismatch/);
  });
});

describe("the installed command (bin/ptyxrf.js)", () => {
  it("--help on every command, exit codes as documented", () => {
    const top = bin("--help");
    expect(top.code).toBe(0);
    for (const c of ["simulate", "validate", "info"]) {
      expect(top.stdout).toContain(c);
      const h = bin(c, "--help");
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`Usage: ptyxrf ${c}`));
    }
    expect(bin("validate", good).code).toBe(0);
    expect(bin("validate", bad).code).toBe(2);
  });
});
