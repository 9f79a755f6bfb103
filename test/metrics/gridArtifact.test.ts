import { describe, expect, it } from "vitest";
import { gridArtifactPower, gridFrequencyBins } from "../../src/metrics/gridArtifact.js";
import { seeded } from "./helpers.js";

const H = 96, W = 110, SY = 9.5, SX = 9.5;

/** Sum of random Gaussian bumps of width sigma in [smin, smax]. */
function bumps(seed: number, count: number, smin: number, smax: number, amp: number): Float64Array {
  const rand = seeded(seed), out = new Float64Array(H * W);
  for (let b = 0; b < count; b++) {
    const cy = H * rand(), cx = W * rand(), s = smin + (smax - smin) * rand(), a = amp * (2 * rand() - 1);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] += a * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * s * s));
  }
  return out;
}

const truth = bumps(1, 40, 1.5, 10, 1);

describe("grid artifact power", () => {
  it("is 1 for the truth itself, with power at the grid frequencies", () => {
    const r = gridArtifactPower(truth, truth, H, W, SY, SX);
    expect(r.ratio).toBe(1);
    expect(r.power).toBeGreaterThan(0);
    expect(r.bins).toBeGreaterThan(100);
  });

  it("is >> 1 with a raster-periodic pattern added (fundamental and harmonics)", () => {
    const grid = Float64Array.from(truth), harmonic = Float64Array.from(truth);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      grid[y * W + x] += 0.1 * Math.cos((2 * Math.PI * y) / SY) * Math.cos((2 * Math.PI * x) / SX + 0.3);
      harmonic[y * W + x] += 0.1 * Math.cos((2 * Math.PI * 2 * x) / SX);
    }
    expect(gridArtifactPower(grid, truth, H, W, SY, SX).ratio).toBeGreaterThan(20);
    expect(gridArtifactPower(harmonic, truth, H, W, SY, SX).ratio).toBeGreaterThan(20);
    // and with a mask (the scanned region)
    const mask = new Uint8Array(H * W);
    for (let y = 10; y < H - 10; y++) for (let x = 12; x < W - 12; x++) mask[y * W + x] = 1;
    expect(gridArtifactPower(grid, truth, H, W, SY, SX, { mask }).ratio).toBeGreaterThan(20);
  });

  it("is about 1 for a phase that differs from the truth by a smooth field, an offset and noise-free drift", () => {
    const smooth = bumps(2, 12, 10, 25, 0.5);
    const phase = truth.map((v, i) => v + smooth[i] + 2.5);
    const r = gridArtifactPower(phase, truth, H, W, SY, SX);
    expect(r.ratio).toBeGreaterThan(0.8);
    expect(r.ratio).toBeLessThan(1.25);
    // an offset alone changes nothing (the weighted mean is removed)
    expect(gridArtifactPower(truth.map((v) => v - 7), truth, H, W, SY, SX).ratio).toBeCloseTo(1, 10);
  });

  it("selects the bins of (a / s_y, b / s_x) up to Nyquist, +-radius, never the DC", () => {
    const bins = gridFrequencyBins(100, 100, 10, 20, 0);
    const on: [number, number][] = [];
    bins.forEach((v, i) => v && on.push([Math.floor(i / 100), i % 100]));
    // a in -5..5, b in -10..10: ky in {0, 10, .., 90} and kx in {0, 5, .., 95} (+-50 is one bin), less the DC
    expect(on.length).toBe(10 * 20 - 1);
    expect(bins[10 * 100 + 5]).toBe(1);
    expect(bins[0]).toBe(0);
    expect(gridFrequencyBins(100, 100, 10, 20, 1).reduce((s, v) => s + v, 0)).toBeGreaterThan(on.length * 4);
    expect(() => gridArtifactPower(truth, truth.subarray(1), H, W, SY, SX)).toThrow(/expected/);
  });
});
