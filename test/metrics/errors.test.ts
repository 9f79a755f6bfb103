import { describe, expect, it } from "vitest";
import { alignObject, objectRelativeError, realRelativeError, relativeError } from "../../src/metrics/errors.js";
import { affine, randomArray, seeded, testObject } from "./helpers.js";

const H = 12, W = 9, P = H * W;
const truth = testObject(H, W);
const rand = seeded(7);
const noisy = truth.map((v) => v + 0.05 * (rand() - 0.5));
const mask = Uint8Array.from({ length: P }, (_, p) => (p % W > 1 && Math.floor(p / W) < 10 ? 1 : 0));

describe("objectRelativeError (complex scale fit)", () => {
  it("is 0 for the truth itself, with a = 1", () => {
    const r = objectRelativeError(truth, truth, mask);
    expect(r.error).toBeCloseTo(0, 12);
    expect(r.scale.re).toBeCloseTo(1, 12);
    expect(r.scale.im).toBeCloseTo(0, 12);
  });

  it("is invariant to a global complex factor, and returns its inverse", () => {
    const c: [number, number] = [0.3 * Math.cos(2.1), 0.3 * Math.sin(2.1)];
    const r = objectRelativeError(affine(truth, c), truth, mask);
    expect(r.error).toBeCloseTo(0, 10);
    // a = 1 / c
    const m = c[0] * c[0] + c[1] * c[1];
    expect(r.scale.re).toBeCloseTo(c[0] / m, 10);
    expect(r.scale.im).toBeCloseTo(-c[1] / m, 10);
    const e0 = objectRelativeError(noisy, truth, mask).error;
    expect(e0).toBeGreaterThan(0.005);
    expect(objectRelativeError(affine(noisy, c), truth, mask).error).toBeCloseTo(e0, 10);
    // the aligned estimate equals the truth
    const aligned = alignObject(affine(truth, c), r.scale);
    for (let i = 0; i < aligned.length; i++) expect(aligned[i]).toBeCloseTo(truth[i], 5);
  });

  it("matches a hand-computed example", () => {
    // x = [1, i], x_hat = [i, 0]: a = conj(i) * 1 / 1 = -i, a x_hat = [1, 0], residual [0, -i] -> 1 / sqrt(2)
    const r = objectRelativeError([0, 1, 0, 0], [1, 0, 0, 1]);
    expect(r.error).toBeCloseTo(Math.SQRT1_2, 12);
    expect(r.scale).toEqual({ re: 0, im: -1 });
  });

  it("ignores everything outside the mask", () => {
    const changed = noisy.slice();
    for (let p = 0; p < P; p++) if (!mask[p]) { changed[2 * p] = 99; changed[2 * p + 1] = -7; }
    expect(objectRelativeError(changed, truth, mask)).toEqual(objectRelativeError(noisy, truth, mask));
    expect(objectRelativeError(changed, truth).error).toBeGreaterThan(0.5); // the fit bounds it by 1
  });

  it("minimises over a: nearby factors give larger errors", () => {
    const r = objectRelativeError(noisy, truth, mask);
    const at = (re: number, im: number) => relativeError(affine(noisy, [re, im]), truth, mask, { complex: true });
    expect(at(r.scale.re, r.scale.im)).toBeCloseTo(r.error, 12);
    for (const [dr, di] of [[0.01, 0], [-0.01, 0], [0, 0.01], [0, -0.01]]) {
      expect(at(r.scale.re + dr, r.scale.im + di)).toBeGreaterThan(r.error);
    }
  });

  it("is NaN for a zero truth, 1 for a zero estimate, and rejects bad sizes", () => {
    expect(objectRelativeError(truth, new Float64Array(2 * P)).error).toBeNaN();
    expect(objectRelativeError(new Float64Array(2 * P), truth).error).toBeCloseTo(1, 12);
    expect(() => objectRelativeError(truth, truth.subarray(2))).toThrow(/estimate has/);
    expect(() => objectRelativeError(truth, truth, new Uint8Array(P - 1))).toThrow(/mask has/);
  });
});

describe("realRelativeError (real scale fit) and relativeError (no fit)", () => {
  const map = randomArray(seeded(3), P, 0, 2);
  it("is 0 for the truth and invariant to a real factor", () => {
    expect(realRelativeError(map, map).error).toBeCloseTo(0, 12);
    const scaled = map.map((v) => -2.5 * v);
    const r = realRelativeError(scaled, map);
    expect(r.error).toBeCloseTo(0, 12);
    expect(r.scale).toBeCloseTo(-0.4, 12);
    const noisyMap = map.map((v) => v + 0.1 * (rand() - 0.5));
    const e = realRelativeError(noisyMap, map, mask).error;
    expect(realRelativeError(noisyMap.map((v) => 3 * v), map, mask).error).toBeCloseTo(e, 12);
    // the plain error does see the scale
    expect(relativeError(scaled, map)).toBeCloseTo(3.5, 12);
  });

  it("matches a hand-computed example", () => {
    // x = [1, 0, 0, 1], x_hat = [1, 1, 0, 1]: a = 2/3, residual [-1/3, 2/3, 0, -1/3], |r|^2 = 2/3, |x|^2 = 2
    const r = realRelativeError([1, 1, 0, 1], [1, 0, 0, 1]);
    expect(r.scale).toBeCloseTo(2 / 3, 12);
    expect(r.error).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(relativeError([1, 1, 0, 1], [1, 0, 0, 1])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(relativeError([1, 1, 0, 1], [1, 0, 0, 1], [1, 0, 1, 1])).toBe(0);
  });

  it("ignores everything outside the mask", () => {
    const a = map.map((v, i) => (mask[i] ? v * 1.1 : -50));
    expect(realRelativeError(a, map, mask).error).toBeCloseTo(0, 12);
    expect(relativeError(a, map, mask)).toBeCloseTo(0.1, 12);
  });

  it("relativeError handles interleaved complex with a per-pixel mask", () => {
    const e = relativeError(noisy, truth, mask, { complex: true });
    let rr = 0, tt = 0;
    for (let p = 0; p < P; p++) {
      if (!mask[p]) continue;
      for (const k of [0, 1]) { rr += (noisy[2 * p + k] - truth[2 * p + k]) ** 2; tt += truth[2 * p + k] ** 2; }
    }
    expect(e).toBeCloseTo(Math.sqrt(rr / tt), 12);
  });
});
