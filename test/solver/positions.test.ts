import { describe, expect, it } from "vitest";
import { positionsToPixels } from "../../src/physics/geometry.js";
import {
  applyAffine, cornersToPositions_m, fitAffine, PositionRefiner, projectAffine, windowsFromCorners, type Affine,
} from "../../src/solver/positions.js";
import { seeded } from "../physics/helpers.js";

/** A 6 x 7 raster of corners (pixels), step 5, starting at (4, 6). */
function raster(): Float64Array {
  const c = new Float64Array(2 * 42);
  for (let i = 0; i < 6; i++) for (let j = 0; j < 7; j++) {
    c[2 * (i * 7 + j)] = 4 + 5 * i;
    c[2 * (i * 7 + j) + 1] = 6 + 5 * j;
  }
  return c;
}

describe("windowsFromCorners", () => {
  it("equals positionsToPixels for the corners it computes, and maps back to metres", () => {
    const dx = 5e-8, grid = { height: 48, width: 52 };
    const pos = [0, 0, 1.2e-7, -3.3e-7, -4.4e-7, 2.5e-8, 7.5e-8, 1.25e-7];
    const ref = positionsToPixels(pos, dx, grid, 16);
    for (const subpixel of [true, false]) {
      const w = windowsFromCorners(ref.corner, grid, 16, { subpixel });
      const r = subpixel ? ref : positionsToPixels(pos, dx, grid, 16, { subpixel: false });
      expect(w).toEqual(r);
    }
    const back = cornersToPositions_m(ref.corner, dx, { ...grid, n: 16 });
    back.forEach((v, i) => expect(v).toBeCloseTo(pos[i], 20));
  });

  it("throws outside the object, or clamps when asked", () => {
    const grid = { height: 20, width: 20 };
    expect(() => windowsFromCorners([4.7, -0.6], grid, 8)).toThrow(/window 0 at corner \(4.70, -0.60\)/);
    const w = windowsFromCorners([4.7, -0.6, 13.2, 2], grid, 8, { clamp: true });
    expect(Array.from(w.corner)).toEqual([4.7, 0, 12, 2]);
    expect(Array.from(w.ix)).toEqual([0, 2]);
    expect(Array.from(w.iy)).toEqual([5, 12]);
    expect(w.fy[0]).toBeCloseTo(-0.3, 12);
    expect(() => windowsFromCorners([NaN, 1], grid, 8)).toThrow(/not finite/);
  });
});

describe("PositionRefiner", () => {
  // quadratic loss L = sum_j a_y (c_y - t_y)^2 + a_x (c_x - t_x)^2, anisotropic, different per position
  const truth = raster().map((v, i) => v + 0.8 * Math.sin(1.7 * i));
  const curv = truth.map((_, i) => 1 + (i % 5));
  const grad = (c: Float64Array) => c.map((v, i) => 2 * curv[i] * (v - truth[i]));
  const maxErr = (c: Float64Array) => Math.max(...c.map((v, i) => Math.abs(v - truth[i])));

  it("plain gradient steps converge on a quadratic; maxStep limits every move", () => {
    const c = raster();
    const r = new PositionRefiner(42, { method: "gradient", rate: 0.15, maxStep: 0.2 });
    const first = r.step(c, grad(c));
    expect(first.maxShift).toBeLessThanOrEqual(0.2 + 1e-12);
    expect(first.clamped).toBeGreaterThan(0);
    for (let it = 0; it < 300; it++) expect(r.step(c, grad(c)).maxShift).toBeLessThanOrEqual(0.2 + 1e-12);
    expect(maxErr(c)).toBeLessThan(1e-3);
  });

  it("Adam converges on a quadratic with a decaying rate, whatever the loss scale", () => {
    for (const scale of [1e-6, 1, 1e6]) {
      const c = raster();
      const r = new PositionRefiner(42, { rate: 0.1, maxStep: 0.5 });
      const iters = 300;
      for (let it = 0; it < iters; it++) {
        r.rate = 0.1 * (0.01 + 0.99 * 0.5 * (1 + Math.cos((Math.PI * it) / iters)));
        r.step(c, grad(c).map((g) => g * scale));
      }
      expect(maxErr(c)).toBeLessThan(0.01);
    }
  });

  it("moves only the positions of a mini-batch, keeps corners in bounds, skips non-finite gradients", () => {
    const c = raster(), before = c.slice();
    const r = new PositionRefiner(42, { rate: 1, maxStep: 3, bounds: { height: 40, width: 45, n: 8 } });
    const g = new Float64Array(84).fill(-1);
    g[2 * 5] = NaN;
    r.step(c, g, Int32Array.from([0, 5, 41]));
    for (let j = 0; j < 42; j++) {
      const moved = c[2 * j] !== before[2 * j] || c[2 * j + 1] !== before[2 * j + 1];
      expect(moved).toBe(j === 0 || j === 41);
    }
    // position 41 sits at (29, 36): +1 px each way clamps x at W - N = 37
    expect(c[83]).toBe(37);
    expect(() => r.step(c, g, [42])).toThrow(/outside 42 positions/);
  });
});

describe("affine constraint", () => {
  const nominal = raster();
  const A: Affine = { a: [1.02, 0.015, -0.01, 0.985], t: [0.7, -1.3] };

  it("fitAffine recovers a known affine distortion, and the projection removes local noise", () => {
    const exact = applyAffine(A, nominal);
    const fit = fitAffine(nominal, exact);
    fit.a.forEach((v, i) => expect(v).toBeCloseTo(A.a[i], 8));
    fit.t.forEach((v, i) => expect(v).toBeCloseTo(A.t[i], 7));
    // refined = affine + zero-mean local errors: projection lands closer to the affine positions
    const rand = seeded(5);
    const noisy = exact.map((v) => v + 0.3 * (rand() - 0.5));
    const { corners, affine } = projectAffine(nominal, noisy);
    affine.a.forEach((v, i) => expect(Math.abs(v - A.a[i])).toBeLessThan(0.01));
    const rms = (x: Float64Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - exact[i]) ** 2, 0) / x.length);
    expect(rms(corners)).toBeLessThan(0.3 * rms(noisy));
    // residual 1 keeps the refined positions; 0.5 is halfway
    projectAffine(nominal, noisy, { residual: 1 }).corners.forEach((v, i) => expect(v).toBeCloseTo(noisy[i], 10));
    const half = projectAffine(nominal, noisy, { residual: 0.5 }).corners;
    half.forEach((v, i) => expect(v).toBeCloseTo(0.5 * (corners[i] + noisy[i]), 10));
  });

  it("weights, degenerate layouts (a line scan, one point) and errors", () => {
    // a line scan along x: the y-scale is undetermined and stays 1; the translation is still fitted
    const line = Float64Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 10 : 3 * i));
    const moved = applyAffine({ a: [1, 0, 0, 1.05], t: [0.5, -0.25] }, line);
    const fit = fitAffine(line, moved);
    expect(fit.a[0]).toBeCloseTo(1, 6);
    expect(fit.a[3]).toBeCloseTo(1.05, 6);
    expect(Array.from(applyAffine(fit, line)).map((v, i) => Math.abs(v - moved[i]) < 1e-6)).not.toContain(false);
    const one = fitAffine([3, 4], [3.5, 3]);
    expect(one).toEqual({ a: [1, 0, 0, 1], t: [0.5, -1] });
    // an outlier with weight 0 is ignored
    const exact = applyAffine(A, nominal);
    exact[10] += 50;
    const w = new Float64Array(42).fill(1);
    w[5] = 0;
    fitAffine(nominal, exact, w).a.forEach((v, i) => expect(v).toBeCloseTo(A.a[i], 8));
    expect(() => fitAffine([1, 2, 3], [1, 2, 3])).toThrow(/pairs/);
    expect(() => projectAffine(nominal, exact, { residual: 2 })).toThrow(/residual/);
  });
});
