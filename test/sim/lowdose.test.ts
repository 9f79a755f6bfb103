import { describe, expect, it } from "vitest";
import { positionsToPixels } from "../../src/physics/geometry.js";
import { PRESETS, resolveConfig } from "../../src/sim/presets.js";
import { patternPhotons, simulate } from "../../src/sim/simulate.js";

function frameSums(frames: ArrayLike<number>, count: number, nn: number): Float64Array {
  const out = new Float64Array(count);
  for (let j = 0; j < count; j++) for (let i = 0; i < nn; i++) out[j] += frames[j * nn + i];
  return out;
}

describe("lowdose preset (DAP's low-dose, low-overlap setting)", () => {
  it("is a 15 x 15 raster at overlap 0.5 with a 64 px probe, Poisson noise, 1e3 photons in the brightest pattern", () => {
    const c = resolveConfig({ preset: "lowdose" });
    expect(c).toMatchObject({
      preset: "lowdose", probeSize: 64, objectSize: 200, link: "exponential", elements: ["Fe", "Zn"],
      scan: { pattern: "raster", grid: [15, 15], overlap: 0.5, jitter_px: 0 }, noise: { kind: "poisson" }, maxPatternPhotons: 1e3,
    });
    // the other presets keep their dose rule
    for (const name of ["small", "paper", "bench", "large"] as const) expect(PRESETS[name].maxPatternPhotons).toBeUndefined();
    // an explicit dose replaces the preset's photon rule; both given: the rule wins
    expect(resolveConfig({ preset: "lowdose", dose: 1e5 }).maxPatternPhotons).toBeUndefined();
    expect(resolveConfig({ preset: "lowdose", dose: 1e5, maxPatternPhotons: 50 }).maxPatternPhotons).toBe(50);
    expect(() => resolveConfig({ preset: "lowdose", maxPatternPhotons: 0 })).toThrow(/max pattern photons/);
  });

  const clean = simulate({ preset: "lowdose", seed: 1, noise: { kind: "none" } });
  const { header, truth, config } = clean;
  const n = header.frameSize, nn = n * n;
  const frames = clean.frames.frames(0, header.npos);
  const sums = frameSums(frames, header.npos, nn);

  it("scales the dose so that the brightest noiseless pattern holds exactly P photons", () => {
    expect(header.npos).toBe(225);
    expect(header.xrf.raster).toEqual([15, 15]);
    expect(truth.provenance.step_y_px).toBeCloseTo(9.5, 1);
    expect(truth.provenance.jitter_px).toBe(0);
    expect(Math.abs(Math.max(...sums) / 1e3 - 1)).toBeLessThan(1e-5);
    expect(Math.min(...sums)).toBeGreaterThan(0.5e3);
    expect(truth.provenance.max_pattern_photons).toBe(1e3);
    expect(truth.provenance.dose_photons).toBe(config.dose);
    expect(config.dose).toBeGreaterThan(1e3); // the sample absorbs a little
    expect(config.dose).toBeLessThan(1.5e3);
    let probePhotons = 0;
    for (const v of truth.probe.data) probePhotons += v * v;
    expect(probePhotons / config.dose).toBeCloseTo(1, 5);
    // patternPhotons (real space, Parseval) agrees with the simulated far-field frames
    const windows = positionsToPixels(header.positions, truth.pixelSize_m, truth.object, n);
    const pp = patternPhotons(truth.object.data, truth.probe.data, windows);
    for (let j = 0; j < header.npos; j += 17) expect(pp[j] / sums[j]).toBeCloseTo(1, 5);
  });

  it("with Poisson noise: integer counts around the scaled model, most pixels empty", () => {
    const noisy = simulate({ preset: "lowdose", seed: 1 });
    expect(noisy.config.dose).toBe(config.dose);
    const f = noisy.frames.frames(0, header.npos);
    expect(f).toBeInstanceOf(Uint32Array);
    const ns = frameSums(f, header.npos, nn);
    const j = sums.indexOf(Math.max(...sums));
    expect(Math.abs(ns[j] - 1e3)).toBeLessThan(5 * Math.sqrt(1e3));
    let zeros = 0;
    for (let i = 0; i < nn; i++) if (f[j * nn + i] === 0) zeros++;
    expect(zeros / nn).toBeGreaterThan(0.5);
  });

  it("maxPatternPhotons works on any preset and scales the frames linearly", () => {
    const base = simulate({ preset: "small", seed: 2, noise: { kind: "none" } });
    const scaled = simulate({ preset: "small", seed: 2, noise: { kind: "none" }, maxPatternPhotons: 5e4 });
    const a = frameSums(base.frames.frames(0, 36), 36, 32 * 32), b = frameSums(scaled.frames.frames(0, 36), 36, 32 * 32);
    expect(Math.max(...b) / 5e4).toBeCloseTo(1, 5);
    const k = Math.max(...b) / Math.max(...a);
    for (let j = 0; j < 36; j++) expect(b[j] / (k * a[j])).toBeCloseTo(1, 5);
    expect(scaled.config.dose / base.config.dose).toBeCloseTo(k, 5);
    expect(base.truth.provenance.max_pattern_photons).toBeUndefined();
    expect(scaled.truth.elementMaps).toEqual(base.truth.elementMaps);
  });
});
