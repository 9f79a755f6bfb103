import { describe, expect, it } from "vitest";
import { ptychoLoss, xrfLoss } from "../../src/physics/losses.js";
import { seeded } from "./helpers.js";

type LossFn = (model: ArrayLike<number>, measured: ArrayLike<number>, grad: Float64Array | null) => number;

const ptycho = (m: "gaussian" | "poisson" | "weighted"): LossFn => (d, i, g) => ptychoLoss(m, d, i, g);
const xrf = (m: "lsq" | "poisson"): LossFn => (x, y, g) => xrfLoss(m, x, y, g);

function checkDerivative(fn: LossFn): void {
  const rand = seeded(21);
  const model = Array.from({ length: 40 }, () => 0.05 + 20 * rand());
  const measured = model.map((_, i) => (i % 5 === 0 ? 0 : Math.round(30 * rand())));
  const grad = new Float64Array(model.length);
  fn(model, measured, grad);
  const eps = 1e-6;
  for (let i = 0; i < model.length; i++) {
    const fd = (fn([model[i] + eps], [measured[i]], null) - fn([model[i] - eps], [measured[i]], null)) / (2 * eps);
    expect(Math.abs(fd - grad[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(grad[i])));
  }
}

describe("ptychography losses", () => {
  for (const m of ["gaussian", "poisson", "weighted"] as const) {
    it(`${m}: dl/dD matches central differences and a perfect fit scores ~0`, () => {
      checkDerivative(ptycho(m));
      const counts = [0, 1, 5, 100, 0, 3];
      expect(ptychoLoss(m, counts, counts, null)).toBeLessThan(1e-4);
      expect(ptychoLoss(m, counts.map((c) => c + 1), counts, null)).toBeGreaterThan(0.1);
    });
  }

  it("has the documented values", () => {
    expect(ptychoLoss("gaussian", [4], [1], null, 0)).toBeCloseTo(1, 12);
    expect(ptychoLoss("poisson", [2], [1], null, 0)).toBeCloseTo(1 - Math.log(2), 12);
    expect(ptychoLoss("poisson", [2], [0], null, 0)).toBeCloseTo(2, 12);
    expect(ptychoLoss("weighted", [3, 3], [2, 0], null)).toBeCloseTo(0.25 + 3, 12);
    const g = new Float64Array(2);
    ptychoLoss("weighted", [3, 3], [2, 0], g);
    expect(Array.from(g)).toEqual([0.5, 1]);
  });

  it("guards D = 0 and rejects mismatched lengths and unknown models", () => {
    const g = new Float64Array(1);
    expect(Number.isFinite(ptychoLoss("poisson", [0], [5], g))).toBe(true);
    expect(Number.isFinite(g[0])).toBe(true);
    expect(Number.isFinite(ptychoLoss("gaussian", [0], [5], g))).toBe(true);
    expect(() => ptychoLoss("poisson", [1, 2], [1], null)).toThrow(/measured 1/);
    expect(() => ptychoLoss("l1" as never, [1], [1], null)).toThrow(/unknown ptychography noise model/);
  });
});

describe("XRF losses", () => {
  for (const m of ["lsq", "poisson"] as const) {
    it(`${m}: dl/dX matches central differences`, () => checkDerivative(xrf(m)));
  }
  it("has the documented values", () => {
    expect(xrfLoss("lsq", [3, 1], [1, 1], null)).toBeCloseTo(4, 12);
    expect(xrfLoss("poisson", [2], [1], null, 0)).toBeCloseTo(1 - Math.log(2), 12);
    expect(() => xrfLoss("l1" as never, [1], [1], null)).toThrow(/unknown XRF noise model/);
  });
});
