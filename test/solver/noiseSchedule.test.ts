import { describe, expect, it } from "vitest";
import { ptychoLoss } from "../../src/physics/losses.js";
import { measuredSwitchScale, noiseModelAt, switchScale, validateNoiseSchedule } from "../../src/solver/noiseSchedule.js";
import { seeded } from "../physics/helpers.js";

function near(rand: () => number, n: number, rel: number): { D: Float64Array; I: Float64Array } {
  const I = new Float64Array(n), D = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    I[i] = 1 + 1000 * rand();
    D[i] = I[i] * (1 + rel * (2 * rand() - 1));
  }
  return { D, I };
}

describe("noise-model schedule", () => {
  it("runs gaussian for the warm-up, then the target with the switch scale", () => {
    const s = { target: "poisson" as const, warmup: 100 };
    expect(noiseModelAt(0, s)).toEqual({ model: "gaussian", scale: 1, switched: false });
    expect(noiseModelAt(99, s)).toEqual({ model: "gaussian", scale: 1, switched: false });
    expect(noiseModelAt(100, s)).toEqual({ model: "poisson", scale: 0.5, switched: true });
    expect(noiseModelAt(500, { target: "weighted", warmup: 10 })).toEqual({ model: "weighted", scale: 0.5, switched: true });
    expect(noiseModelAt(5, { target: "weighted", warmup: 0 })).toEqual({ model: "weighted", scale: 1, switched: false });
    expect(noiseModelAt(500, { target: "gaussian", warmup: 10 })).toEqual({ model: "gaussian", scale: 1, switched: false });
    expect(noiseModelAt(20, { target: "poisson", warmup: 10, scale: 0.7 }).scale).toBe(0.7);
    expect(switchScale("gaussian")).toBe(1);
    expect(validateNoiseSchedule({ target: "lsq" as never, warmup: -1, scale: 0 })).toHaveLength(3);
    expect(() => noiseModelAt(0, { target: "poisson", warmup: 1.5 })).toThrow(/warmup/);
  });

  for (const target of ["poisson", "weighted"] as const) {
    it(`scale x ${target} has the gaussian's gradient (and loss) near D = I`, () => {
      const rand = seeded(target === "poisson" ? 1 : 2);
      const { D, I } = near(rand, 4096, 1e-3);
      const gG = new Float64Array(D.length), gT = new Float64Array(D.length);
      const lG = ptychoLoss("gaussian", D, I, gG, 0);
      const lT = ptychoLoss(target, D, I, gT, 0);
      const { scale } = noiseModelAt(1, { target, warmup: 1 });
      let worst = 0, num = 0, den = 0;
      for (let i = 0; i < D.length; i++) {
        worst = Math.max(worst, Math.abs(scale * gT[i] - gG[i]) / Math.abs(gG[i]));
        num += (scale * gT[i] - gG[i]) ** 2;
        den += gG[i] ** 2;
      }
      expect(worst).toBeLessThan(1e-2);
      expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
      expect(Math.abs((scale * lT) / lG - 1)).toBeLessThan(1e-2);
      // without the scale the gradient jumps by a factor of 2
      expect(Math.sqrt(den) / Math.sqrt(gT.reduce((s, g) => s + g * g, 0))).toBeCloseTo(0.5, 2);
      expect(measuredSwitchScale(D, I, target, 0)).toBeCloseTo(0.5, 3);
    });
  }

  it("the measured scale departs from 1/2 at low counts (D << 1)", () => {
    const rand = seeded(3);
    const n = 4096, I = new Float64Array(n), D = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      D[i] = 0.05 + 0.1 * rand();
      I[i] = rand() < D[i] ? 1 : 0;
    }
    // zero-count pixels alone: every loss has gradient 1 there
    expect(measuredSwitchScale(D, new Float64Array(n), "poisson")).toBeCloseTo(1, 12);
    // a few single photons where D ~ 0.1: 1 - 1/sqrt(D) vs 1 - 1/D dominate, the ratio falls below 1/2
    const s = measuredSwitchScale(D, I, "poisson");
    expect(Math.abs(s - 0.5)).toBeGreaterThan(0.05);
  });
});
