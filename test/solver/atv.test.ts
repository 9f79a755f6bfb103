import { describe, expect, it } from "vitest";
import { adaptiveGamma, atv, atvFloor } from "../../src/solver/atv.js";
import { randomArray, seeded } from "../physics/helpers.js";

const H = 7, W = 9;

/** Central finite differences of f along every coordinate. */
function numericGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const a = f(x);
    x[i] = v - h;
    const b = f(x);
    x[i] = v;
    g[i] = (a - b) / (2 * h);
  }
  return g;
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

const PQ: [number, number][] = [[2, 1], [1, 1], [2, 2], [1.5, 1], [2, 0.8], [3, 1.2]];

describe("adaptive total variation", () => {
  for (const [p, q] of PQ) {
    it(`complex (p, q) = (${p}, ${q}): Wirtinger gradient matches finite differences`, () => {
      const img = randomArray(seeded(10 * p + q), 2 * H * W);
      const spec = { kind: "complex" as const, p, q, eps: 1e-6 };
      const g = new Float64Array(2 * H * W);
      const value = atv(img, H, W, spec, g);
      expect(value).toBeGreaterThan(0);
      const num = numericGrad((x) => atv(x, H, W, spec), img);
      // real gradient (d/dRe, d/dIm) = 2 x Wirtinger
      expect(relErr(g.map((v) => 2 * v), num)).toBeLessThan(1e-6);
    });

    it(`real (p, q) = (${p}, ${q}): gradient matches finite differences`, () => {
      const img = randomArray(seeded(100 + 10 * p + q), H * W);
      const spec = { kind: "real" as const, p, q, eps: 1e-6 };
      const g = new Float64Array(H * W);
      atv(img, H, W, spec, g);
      expect(relErr(g, numericGrad((x) => atv(x, H, W, spec), img))).toBeLessThan(1e-6);
    });
  }

  it("gradient is added, times the weight", () => {
    const img = randomArray(seeded(5), 2 * H * W);
    const g1 = new Float64Array(2 * H * W), g2 = new Float64Array(2 * H * W).fill(1);
    atv(img, H, W, { kind: "complex" }, g1);
    atv(img, H, W, { kind: "complex" }, g2, 3);
    for (let i = 0; i < g1.length; i++) expect(g2[i]).toBeCloseTo(1 + 3 * g1[i], 12);
  });

  it("matches a direct evaluation of eq. 6 with Neumann boundaries", () => {
    const img = randomArray(seeded(6), 2 * H * W);
    let s = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const at = (yy: number, xx: number) => [img[2 * (yy * W + xx)], img[2 * (yy * W + xx) + 1]];
        const o = at(y, x);
        const a = x < W - 1 ? at(y, x + 1).map((v, i) => v - o[i]) : [0, 0];
        const b = y < H - 1 ? at(y + 1, x).map((v, i) => v - o[i]) : [0, 0];
        s += (Math.hypot(a[0], a[1]) ** 1.5 + Math.hypot(b[0], b[1]) ** 1.5 + 1e-3) ** (1.2 / 1.5);
      }
    }
    expect(atv(img, H, W, { kind: "complex", p: 1.5, q: 1.2, eps: 1e-3 })).toBeCloseTo(s / (H * W), 12);
  });

  it("a constant image scores eps^(q/p) with a zero gradient", () => {
    const img = new Float64Array(2 * H * W);
    for (let i = 0; i < img.length; i += 2) {
      img[i] = 0.7;
      img[i + 1] = -0.2;
    }
    for (const [p, q] of PQ) {
      const g = new Float64Array(img.length);
      const v = atv(img, H, W, { kind: "complex", p, q, eps: 1e-8 }, g);
      expect(v).toBeCloseTo(atvFloor({ p, q, eps: 1e-8 }), 15);
      expect(v).toBeCloseTo(Math.pow(1e-8, q / p), 15);
      expect(g.every((x) => x === 0)).toBe(true);
    }
  });

  it("scales as |c|^q for O -> c O (eps negligible), and ignores a global phase and offset", () => {
    const img = randomArray(seeded(7), 2 * H * W);
    for (const [p, q] of PQ) {
      const spec = { kind: "complex" as const, p, q, eps: 1e-14 };
      const base = atv(img, H, W, spec);
      const scaled = atv(img.map((v) => 3 * v), H, W, spec);
      expect(scaled / base).toBeCloseTo(3 ** q, 6);
      // multiply by exp(i 0.8) and add a constant: same differences' moduli
      const c = Math.cos(0.8), s = Math.sin(0.8);
      const rot = new Float64Array(img.length);
      for (let i = 0; i < img.length; i += 2) {
        rot[i] = c * img[i] - s * img[i + 1] + 5;
        rot[i + 1] = s * img[i] + c * img[i + 1] - 2;
      }
      expect(atv(rot, H, W, spec)).toBeCloseTo(base, 10);
    }
  });

  it("penalises a periodic grid far more than a smooth ramp of the same range", () => {
    const ramp = new Float64Array(H * W), grid = new Float64Array(H * W);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      ramp[y * W + x] = x / (W - 1);
      grid[y * W + x] = x % 2;
    }
    expect(atv(grid, H, W, { kind: "real" })).toBeGreaterThan(5 * atv(ramp, H, W, { kind: "real" }));
  });

  it("adaptiveGamma keeps gamma * ATV = ratio * loss", () => {
    expect(adaptiveGamma(10, 0.5, 0.1) * 0.5).toBeCloseTo(0.1 * 10, 12);
    expect(adaptiveGamma(10, 0, 0.1)).toBe(0);
    expect(adaptiveGamma(10, 1e-9, 0.1, { floor: 1e-8 })).toBe(0);
    expect(adaptiveGamma(10, 1e-3, 0.1, { max: 5 })).toBe(5);
    expect(adaptiveGamma(0, 1, 0.1)).toBe(0);
    expect(() => adaptiveGamma(1, 1, -1)).toThrow(/ratio/);
  });

  it("rejects bad shapes and parameters", () => {
    expect(() => atv(new Float64Array(10), 2, 3, { kind: "complex" })).toThrow(/not a 2 x 3 complex/);
    expect(() => atv(new Float64Array(6), 2, 3, { kind: "real", p: 0 })).toThrow(/p must be/);
    expect(() => atv(new Float64Array(6), 2, 3, { kind: "real" }, new Float64Array(5))).toThrow(/gradient/);
  });
});
