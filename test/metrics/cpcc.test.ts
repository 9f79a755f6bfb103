import { describe, expect, it } from "vitest";
import { cpcc } from "../../src/metrics/cpcc.js";
import { affine, gaussian, seeded, testObject } from "./helpers.js";

const H = 16, W = 20, P = H * W;
const truth = testObject(H, W);
const mask = Uint8Array.from({ length: P }, (_, p) => (Math.floor(p / W) > 2 ? 1 : 0));

function withNoise(x: Float64Array, sigma: number, seed: number): Float64Array {
  const g = gaussian(seeded(seed));
  return x.map((v) => v + sigma * g());
}

describe("cPCC (DAP paper eq. A1)", () => {
  it("is 1 for the truth itself", () => {
    const c = cpcc(truth, truth);
    expect(c.re).toBeCloseTo(1, 12);
    expect(c.im).toBeCloseTo(0, 12);
    expect(c.abs).toBeCloseTo(1, 12);
  });

  it("has magnitude 1 for truth * scale * exp(i phi) (+ offset), phase -phi", () => {
    for (const phi of [0.4, -2.5, 3]) {
      const s = 0.37;
      const c = cpcc(affine(truth, [s * Math.cos(phi), s * Math.sin(phi)], [0.2, -0.1]), truth, mask);
      expect(c.abs).toBeCloseTo(1, 10);
      expect(c.phase).toBeCloseTo(phi, 10);
    }
  });

  it("drops as noise grows", () => {
    const values = [0.01, 0.05, 0.2, 1].map((sigma) => cpcc(withNoise(truth, sigma, 5), truth, mask).abs);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]);
    expect(values[0]).toBeGreaterThan(0.99);
    expect(values[3]).toBeLessThan(0.6);
  });

  it("is ~0 for independent noise", () => {
    const g1 = gaussian(seeded(1)), g2 = gaussian(seeded(2));
    const a = Float64Array.from({ length: 2 * 4096 }, () => g1());
    const b = Float64Array.from({ length: 2 * 4096 }, () => g2());
    expect(cpcc(a, b).abs).toBeLessThan(0.05);
  });

  it("is symmetric up to conjugation: cPCC(y, x) = conj(cPCC(x, y))", () => {
    const y = affine(withNoise(truth, 0.1, 9), [0.6, 0.8]);
    const xy = cpcc(truth, y, mask), yx = cpcc(y, truth, mask);
    expect(yx.re).toBeCloseTo(xy.re, 12);
    expect(yx.im).toBeCloseTo(-xy.im, 12);
    expect(yx.abs).toBeCloseTo(xy.abs, 12);
  });

  it("matches hand-computed examples", () => {
    // real x1 = [0, 1, 2], x2 = [0, 2, 4]: perfectly correlated
    expect(cpcc([0, 0, 1, 0, 2, 0], [0, 0, 2, 0, 4, 0]).re).toBeCloseTo(1, 12);
    // x1 = [0, 1, 2], x2 = [0, 1, 0]: deviations [-1, 0, 1] and [-1/3, 2/3, -1/3] are orthogonal
    expect(cpcc([0, 0, 1, 0, 2, 0], [0, 0, 1, 0, 0, 0]).abs).toBeCloseTo(0, 12);
    // x1 = [1, -1], x2 = [i, 1]: d1 = [1, -1], d2 = [(i - 1)/2, (1 - i)/2];
    // num = sum d1 conj(d2) = (-i - 1)/2 - (1 + i)/2 = -1 - i; |d1|^2 = 2, |d2|^2 = 1 -> (-1 - i) / sqrt(2)
    const c = cpcc([1, 0, -1, 0], [0, 1, 1, 0]);
    expect(c.re).toBeCloseTo(-Math.SQRT1_2, 12);
    expect(c.im).toBeCloseTo(-Math.SQRT1_2, 12);
    expect(c.abs).toBeCloseTo(1, 12);
  });

  it("respects the mask and gives NaN for a constant image", () => {
    const changed = truth.slice();
    for (let p = 0; p < P; p++) if (!mask[p]) changed[2 * p] += 10;
    expect(cpcc(changed, truth, mask)).toEqual(cpcc(truth, truth, mask));
    expect(cpcc(changed, truth).abs).toBeLessThan(0.9);
    expect(cpcc(new Float64Array(2 * P).fill(1), truth).abs).toBeNaN();
    expect(() => cpcc(truth, truth, new Uint8Array(3))).toThrow(/mask has 3/);
  });
});
