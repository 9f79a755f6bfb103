import { describe, expect, it } from "vitest";
import { hashSeed, logGamma, Rng } from "../../src/sim/rng.js";

function moments(sample: (r: Rng) => number, count: number, seed = 1): { mean: number; variance: number } {
  const r = new Rng(seed, 99);
  let s = 0, s2 = 0;
  for (let i = 0; i < count; i++) {
    const v = sample(r);
    s += v;
    s2 += v * v;
  }
  const mean = s / count;
  return { mean, variance: s2 / count - mean * mean };
}

describe("Rng", () => {
  it("is reproducible per (seed, stream) and differs between streams and seeds", () => {
    const draw = (r: Rng) => Array.from({ length: 8 }, () => r.uint32());
    expect(draw(new Rng(7, 1, 2))).toEqual(draw(new Rng(7, 1, 2)));
    expect(draw(new Rng(7, 1, 2))).not.toEqual(draw(new Rng(7, 1, 3)));
    expect(draw(new Rng(7, 1, 2))).not.toEqual(draw(new Rng(8, 1, 2)));
    expect(hashSeed(1, 2 ** 40)).not.toBe(hashSeed(1, 0));
    expect(() => hashSeed(-1)).toThrow(/non-negative integers/);
    expect(() => hashSeed(1.5)).toThrow(/non-negative integers/);
  });

  it("draws uniforms in (0, 1) and standard normals", () => {
    const r = new Rng(3);
    let outside = 0;
    for (let i = 0; i < 10000; i++) {
      const u = r.uniform();
      if (!(u > 0 && u < 1)) outside++;
    }
    expect(outside).toBe(0);
    const N = 40000;
    const u = moments((g) => g.uniform(), N);
    expect(Math.abs(u.mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(u.variance - 1 / 12)).toBeLessThan(0.003);
    const z = moments((g) => g.normal(), N);
    expect(Math.abs(z.mean)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(z.variance - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
  });

  it("computes log Gamma", () => {
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 10);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 10);
    expect(logGamma(3.7)).toBeCloseTo(1.4280723266653, 9);
    expect(logGamma(1e6 + 1)).toBeCloseTo(1e6 * Math.log(1e6) - 1e6 + 0.5 * Math.log(2 * Math.PI * 1e6) + 1 / 12e6, 6);
  });

  for (const lambda of [0.3, 3, 9.5, 10, 47, 1e4, 3e7]) {
    it(`Poisson(${lambda}) has mean and variance lambda`, () => {
      const N = 20000;
      const m = moments((g) => g.poisson(lambda), N, Math.round(lambda));
      expect(Math.abs(m.mean - lambda)).toBeLessThan(5 * Math.sqrt(lambda / N));
      expect(Math.abs(m.variance / lambda - 1)).toBeLessThan(6 * Math.sqrt(2 / N));
    });
  }

  it("Poisson probabilities match the pmf in both regimes and integers are returned", () => {
    for (const lambda of [4, 12]) {
      const r = new Rng(5, lambda), N = 50000;
      const counts = new Array(40).fill(0);
      let bad = 0;
      for (let i = 0; i < N; i++) {
        const k = r.poisson(lambda);
        if (!(Number.isInteger(k) && k >= 0)) bad++;
        else if (k < 40) counts[k]++;
      }
      expect(bad).toBe(0);
      for (let k = 0; k < 25; k++) {
        const p = Math.exp(-lambda + k * Math.log(lambda) - logGamma(k + 1));
        expect(Math.abs(counts[k] / N - p)).toBeLessThan(5 * Math.sqrt(p / N) + 1e-4);
      }
    }
    expect(new Rng(1).poisson(0)).toBe(0);
    expect(() => new Rng(1).poisson(-1)).toThrow(/Poisson mean/);
  });
});
