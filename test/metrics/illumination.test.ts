import { describe, expect, it } from "vitest";
import { positionsToPixels } from "../../src/physics/geometry.js";
import { illuminatedMask, illuminatedRegion, illuminationMap } from "../../src/metrics/illumination.js";

/** K = 2 Gaussian probe modes of n x n, centred at (n/2, n/2), width s pixels. */
function gaussianProbe(n: number, s: number): Float32Array {
  const p = new Float32Array(2 * 2 * n * n);
  for (let k = 0; k < 2; k++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const r2 = (y - n / 2) ** 2 + (x - n / 2) ** 2;
        const a = (k === 0 ? 1 : 0.5) * Math.exp(-r2 / (2 * s * s));
        p[2 * (k * n * n + y * n + x)] = a * Math.cos(0.3 * x);
        p[2 * (k * n * n + y * n + x) + 1] = a * Math.sin(0.3 * x);
      }
    }
  }
  return p;
}

const H = 64, W = 72, n = 16, dx = 1e-8;
const pos: number[] = [];
for (let iy = -2; iy <= 2; iy++) for (let ix = -2; ix <= 2; ix++) pos.push(iy * 5 * dx, ix * 5.3 * dx);
const windows = positionsToPixels(pos, dx, { height: H, width: W }, n);
const probe = gaussianProbe(n, 3);

describe("illuminated region", () => {
  it("sums the probe intensity of every position (energy is conserved)", () => {
    const map = illuminationMap(probe, windows);
    let total = 0, probeEnergy = 0;
    for (const v of map) total += v;
    for (let i = 0; i < probe.length; i++) probeEnergy += probe[i] * probe[i];
    expect(total).toBeCloseTo(windows.count * probeEnergy, 1);
    // ProbeModes form gives the same map
    const again = illuminationMap({ modes: 2, n, data: probe }, windows);
    expect(Array.from(again)).toEqual(Array.from(map));
  });

  it("covers the scanned area and excludes a far corner", () => {
    const { map, mask, pixels } = illuminatedRegion(probe, windows);
    // every window centre is illuminated
    for (let j = 0; j < windows.count; j++) {
      expect(mask[(windows.iy[j] + n / 2) * W + windows.ix[j] + n / 2]).toBe(1);
    }
    // the centre of the scan, and the midpoint between neighbouring positions
    expect(mask[(H / 2) * W + W / 2]).toBe(1);
    expect(mask[(H / 2 + 2) * W + W / 2 + 3]).toBe(1);
    // far corners are dark
    expect(mask[0]).toBe(0);
    expect(mask[H * W - 1]).toBe(0);
    expect(map[0]).toBe(0);
    expect(pixels).toBeGreaterThan(25 * 25);
    expect(pixels).toBeLessThan(H * W / 2);
  });

  it("thresholds at the given fraction of the maximum", () => {
    const map = [0, 1, 2, 5, 10];
    expect(Array.from(illuminatedMask(map))).toEqual([0, 0, 1, 1, 1]);
    expect(Array.from(illuminatedMask(map, 0.5))).toEqual([0, 0, 0, 0, 1]);
    expect(Array.from(illuminatedMask([0, 0]))).toEqual([0, 0]);
    expect(() => illuminatedMask(map, 1.5)).toThrow(/fraction/);
    expect(() => illuminationMap(new Float32Array(10), windows)).toThrow(/not K x 16 x 16/);
    expect(() => illuminationMap({ modes: 1, n: 8, data: new Float32Array(128) }, windows)).toThrow(/8 x 8/);
  });

  it("follows the sub-pixel shift of the probe like the forward models", () => {
    const one = positionsToPixels([0.3 * dx, 0], dx, { height: H, width: W }, n);
    const map = illuminationMap(probe, one);
    // centre of mass moves by the fractional shift (probe centred at n/2 within the window)
    let m = 0, cy = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) { m += map[y * W + x]; cy += y * map[y * W + x]; }
    expect(cy / m).toBeCloseTo(one.iy[0] + n / 2 + one.fy[0], 1);
  });
});
