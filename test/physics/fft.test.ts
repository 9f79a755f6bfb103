import { describe, expect, it } from "vitest";
import { innerProduct } from "../../src/physics/complex.js";
import { FFT2, fft2 } from "../../src/physics/fft.js";
import { dot, maxAbsDiff, naiveCentredDft, randomArray, seeded } from "./helpers.js";

describe("FFT2 (orthonormal, centred)", () => {
  for (const n of [8, 16]) {
    it(`matches a naive centred DFT for N=${n}, forward and inverse`, () => {
      const x = randomArray(seeded(n), 2 * n * n);
      const f = new FFT2(n);
      const fwd = Float64Array.from(x);
      f.forward(fwd);
      expect(maxAbsDiff(fwd, naiveCentredDft(x, n, -1))).toBeLessThan(1e-12);
      const inv = Float64Array.from(x);
      f.inverse(inv);
      expect(maxAbsDiff(inv, naiveCentredDft(x, n, 1))).toBeLessThan(1e-12);
    });
  }

  it("puts the zero frequency at (N/2, N/2) and maps a centred delta to a flat, real spectrum", () => {
    const n = 16;
    const f = new FFT2(n);
    const c = new Float64Array(2 * n * n).fill(0);
    for (let i = 0; i < n * n; i++) c[2 * i] = 1;
    f.forward(c);
    const centre = 2 * (n * (n / 2) + n / 2);
    expect(c[centre]).toBeCloseTo(n, 10);
    const energy = dot(c, c);
    expect(energy - c[centre] ** 2).toBeLessThan(1e-18);

    const d = new Float64Array(2 * n * n);
    d[centre] = 1;
    f.forward(d);
    for (let i = 0; i < n * n; i++) {
      expect(d[2 * i]).toBeCloseTo(1 / n, 12);
      expect(d[2 * i + 1]).toBeCloseTo(0, 12);
    }
  });

  it("preserves energy (Parseval), inverts exactly and works in float32", () => {
    const n = 32;
    const x = Float32Array.from(randomArray(seeded(3), 2 * n * n));
    const y = x.slice();
    const f = fft2(n);
    f.forward(y);
    expect(dot(y, y) / dot(x, x)).toBeCloseTo(1, 5);
    f.inverse(y);
    expect(maxAbsDiff(x, y)).toBeLessThan(1e-6);
  });

  it("inverse is the adjoint: <F x, y> = <x, F^H y>", () => {
    const n = 8, rand = seeded(11);
    const x = randomArray(rand, 2 * n * n), y = randomArray(rand, 2 * n * n);
    const fx = x.slice(), fhy = y.slice();
    fft2(n).forward(fx);
    fft2(n).inverse(fhy);
    // complex <a, b> = sum conj(a) b: compare both real and imaginary parts
    const [lr, li] = innerProduct(fx, y), [rr, ri] = innerProduct(x, fhy);
    expect(lr).toBeCloseTo(rr, 12);
    expect(li).toBeCloseTo(ri, 12);
    expect(Math.abs(li)).toBeGreaterThan(0.1);
  });

  it("stack transforms equal frame-by-frame transforms", () => {
    const n = 8, count = 3;
    const x = randomArray(seeded(5), 2 * n * n * count);
    const stack = x.slice();
    fft2(n).forwardStack(stack);
    for (let k = 0; k < count; k++) {
      const one = x.slice(2 * n * n * k, 2 * n * n * (k + 1));
      fft2(n).forward(one);
      expect(maxAbsDiff(stack.subarray(2 * n * n * k, 2 * n * n * (k + 1)), one)).toBe(0);
    }
    fft2(n).inverseStack(stack);
    expect(maxAbsDiff(stack, x)).toBeLessThan(1e-13);
  });

  it("rejects sizes that are not powers of two and frames outside the array", () => {
    expect(() => new FFT2(12)).toThrow(/power of two/);
    expect(() => new FFT2(1)).toThrow(/power of two/);
    expect(() => fft2(8).forward(new Float32Array(2 * 64), 1)).toThrow(/exceeds/);
  });
});
