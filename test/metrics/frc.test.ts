import { describe, expect, it } from "vitest";
import { Dft1, dft2 } from "../../src/metrics/dft.js";
import { frc, halfBitThreshold } from "../../src/metrics/frc.js";
import { gaussian, randomArray, seeded, testObject } from "./helpers.js";

function naiveDft2(x: Float64Array, h: number, w: number): Float64Array {
  const out = new Float64Array(2 * h * w);
  for (let ky = 0; ky < h; ky++) {
    for (let kx = 0; kx < w; kx++) {
      let re = 0, im = 0;
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          const ph = -2 * Math.PI * ((ky * y) / h + (kx * xx) / w);
          const a = x[2 * (y * w + xx)], b = x[2 * (y * w + xx) + 1];
          re += a * Math.cos(ph) - b * Math.sin(ph);
          im += a * Math.sin(ph) + b * Math.cos(ph);
        }
      }
      out[2 * (ky * w + kx)] = re;
      out[2 * (ky * w + kx) + 1] = im;
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Gaussian-blurred white noise (circular blur of width sigma pixels): power concentrated at low frequencies. */
function smoothNoise(n: number, sigma: number, seed: number): Float64Array {
  const g = gaussian(seeded(seed));
  const white = Float64Array.from({ length: n * n }, () => g());
  const k: number[] = [];
  const r = Math.ceil(3 * sigma);
  for (let d = -r; d <= r; d++) k.push(Math.exp(-(d * d) / (2 * sigma * sigma)));
  const tmp = new Float64Array(n * n), out = new Float64Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    let s = 0;
    for (let d = -r; d <= r; d++) s += k[d + r] * white[y * n + ((x + d + n) % n)];
    tmp[y * n + x] = s;
  }
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    let s = 0;
    for (let d = -r; d <= r; d++) s += k[d + r] * tmp[((y + d + n) % n) * n + x];
    out[y * n + x] = s;
  }
  return out;
}

describe("DFT of any size", () => {
  it("matches a naive DFT for power-of-two, odd and composite sizes", () => {
    const rand = seeded(11);
    for (const [h, w] of [[4, 8], [6, 10], [7, 5], [1, 3], [3, 1]]) {
      const x = randomArray(rand, 2 * h * w);
      expect(maxAbsDiff(dft2(x.slice(), h, w), naiveDft2(x, h, w))).toBeLessThan(1e-10);
    }
  });

  it("Bluestein agrees with a naive 1-D DFT at length 154", () => {
    const n = 154, x = randomArray(seeded(12), 2 * n);
    const y = x.slice();
    new Dft1(n).transform(y);
    expect(maxAbsDiff(y, naiveDft2(x, 1, n))).toBeLessThan(1e-9);
  });
});

describe("Fourier ring correlation", () => {
  it("is 1 on every ring for identical images (real and complex, non-power-of-two)", () => {
    const obj = testObject(30, 26);
    const r = frc(obj, obj, 30, 26);
    expect(r.frc.length).toBe(14);
    for (const v of r.frc) expect(v).toBeCloseTo(1, 10);
    expect(r.crossing).toBeNull();
    expect(r.resolution_px).toBe(2);
    const real = randomArray(seeded(1), 154 * 154);
    const rr = frc(real, real, 154, 154);
    expect(rr.frc.length).toBe(78);
    for (const v of rr.frc) expect(v).toBeCloseTo(1, 10);
    // rings of a square image hold about 2 pi i samples
    expect(rr.samples[40]).toBeGreaterThan(2 * Math.PI * 40 * 0.8);
    expect(rr.samples[40]).toBeLessThan(2 * Math.PI * 40 * 1.2);
  });

  it("is ~0 at high frequencies for independent noise", () => {
    const n = 128, g1 = gaussian(seeded(21)), g2 = gaussian(seeded(22));
    const a = Float64Array.from({ length: n * n }, () => g1());
    const b = Float64Array.from({ length: n * n }, () => g2());
    const r = frc(a, b, n, n);
    let mean = 0, count = 0;
    for (let i = 16; i < r.frc.length; i++) {
      expect(Math.abs(r.frc[i])).toBeLessThan(5 / Math.sqrt(r.samples[i]));
      mean += r.frc[i];
      count++;
    }
    expect(Math.abs(mean / count)).toBeLessThan(0.02);
    expect(r.crossing).not.toBeNull();
  });

  it("finds a resolution that worsens with noise", () => {
    const n = 96;
    const signal = smoothNoise(n, 2, 31);
    const g1 = gaussian(seeded(32)), g2 = gaussian(seeded(33));
    const res = [0.02, 0.1].map((sigma) => {
      const a = signal.map((v) => v + sigma * g1());
      const b = signal.map((v) => v + sigma * g2());
      const r = frc(a, b, n, n);
      expect(r.frc[1]).toBeGreaterThan(0.99);
      expect(r.crossing).not.toBeNull();
      expect(r.crossing!).toBeGreaterThan(0.02);
      expect(r.crossing!).toBeLessThan(0.5);
      expect(r.halfPeriod_px).toBeCloseTo(r.resolution_px / 2, 12);
      // FRC is above the threshold before the crossing ring and below at it
      const i = Math.ceil(r.crossing! * n);
      expect(r.frc[i]).toBeLessThan(r.threshold[i]);
      expect(r.frc[i - 1]).toBeGreaterThanOrEqual(r.threshold[i - 1]);
      return r.resolution_px;
    });
    expect(res[1]).toBeGreaterThan(res[0]);
  });

  it("thresholds: half-bit tends to 0.1716, 1/7 is constant", () => {
    expect(halfBitThreshold(1)).toBeCloseTo(1, 3);
    expect(halfBitThreshold(1e12)).toBeCloseTo(0.2071 / 1.2071, 5);
    const x = randomArray(seeded(4), 64), y = randomArray(seeded(5), 64);
    const r = frc(x, y, 8, 8, { threshold: "1/7" });
    for (const t of r.threshold) expect(t).toBeCloseTo(1 / 7, 12);
    expect(() => frc(x, y, 8, 8, { threshold: "0.5" as never })).toThrow(/unknown threshold/);
  });

  it("ignores pixels outside the mask and rejects bad sizes", () => {
    const x = randomArray(seeded(6), 100), y = x.slice();
    const mask = Uint8Array.from({ length: 100 }, (_, i) => (i < 50 ? 1 : 0));
    for (let i = 50; i < 100; i++) y[i] = 7 * Math.sin(i);
    for (const v of frc(x, y, 10, 10, { mask }).frc) expect(v).toBeCloseTo(1, 10);
    expect(frc(x, y, 10, 10, { apodize: true }).frc[4]).toBeLessThan(0.999);
    expect(() => frc(x, y, 10, 11)).toThrow(/neither a real nor/);
  });
});
