import { describe, expect, it } from "vitest";
import { positionsToPixels } from "../../src/physics/geometry.js";
import { ptychoLoss, type PtychoNoiseModel } from "../../src/physics/losses.js";
import { ptychoPositionGradient } from "../../src/physics/positionGradient.js";
import { ptychoIntensities, ptychoLossGradient } from "../../src/physics/ptycho.js";
import { randomArray, seeded } from "./helpers.js";

const H = 20, W = 24, n = 8, K = 2, dx = 1e-8, BG = 0.1;
// (y, x) pixels from the centre: sub-pixel fractions (none at +-0.5, where rounding would flip), and two
// integer positions (fraction 0: the derivative exists there too)
const POS_PX = [0, 0, -3.3, 4.45, 5.2, -7.9, 2.2, 1.25, -1, 3];
const NPOS = POS_PX.length / 2;

function complexNear1(rand: () => number, count: number): Float64Array {
  const a = randomArray(rand, 2 * count, -0.3, 0.3);
  for (let i = 0; i < count; i++) a[2 * i] += 1;
  return a;
}

const windowsAt = (px: ArrayLike<number>) => positionsToPixels(Array.from(px, (p) => p * dx), dx, { height: H, width: W }, n);

describe("ptychoPositionGradient (float64): finite differences of the loss in the continuous positions", () => {
  const rand = seeded(11);
  const object = complexNear1(rand, H * W);
  const probe = randomArray(rand, 2 * K * n * n);
  // measured data: a nearby object, at slightly different positions
  const truePx = POS_PX.map((p, i) => p + 0.3 * Math.sin(3 * i));
  const measured = new Float64Array(NPOS * n * n);
  ptychoIntensities(complexNear1(rand, H * W), probe, windowsAt(truePx), 0, NPOS, measured, BG);
  for (let i = 0; i < measured.length; i++) measured[i] = i % 7 === 0 ? 0 : Math.round(measured[i] * 10) / 10;

  const loss = (model: PtychoNoiseModel, px: ArrayLike<number>): number => {
    const d = new Float64Array(NPOS * n * n);
    ptychoIntensities(object, probe, windowsAt(px), 0, NPOS, d, BG);
    return ptychoLoss(model, d, measured, null);
  };

  for (const model of ["gaussian", "poisson", "weighted"] as const) {
    it(`${model}: every coordinate of every position (K = 2, background, integer and sub-pixel positions)`, () => {
      const win = windowsAt(POS_PX);
      const g = new Float64Array(2 * NPOS);
      const l = ptychoPositionGradient(object, probe, win, 0, NPOS, measured, model, g, { background: BG });
      // the loss it returns is the loss of ptychoLossGradient
      const gO = new Float64Array(object.length);
      expect(l).toBeCloseTo(ptychoLossGradient(object, probe, win, 0, NPOS, measured, model, gO, null, { background: BG }), 9);
      const h = 1e-4;
      for (let c = 0; c < 2 * NPOS; c++) {
        const plus = POS_PX.slice(), minus = POS_PX.slice();
        plus[c] += h;
        minus[c] -= h;
        const fd = (loss(model, plus) - loss(model, minus)) / (2 * h);
        expect(Math.abs(fd - g[c])).toBeLessThan(1e-6 * Math.max(...g.map(Math.abs)));
      }
    });
  }

  it("accumulates, works position by position, and converts to metres by 1 / pixel size", () => {
    const win = windowsAt(POS_PX);
    const all = new Float64Array(2 * NPOS);
    ptychoPositionGradient(object, probe, win, 0, NPOS, measured, "poisson", all);
    const parts = new Float64Array(2 * NPOS).fill(1);
    for (let j = 0; j < NPOS; j++) {
      ptychoPositionGradient(object, probe, win, j, 1, measured.subarray(j * n * n, (j + 1) * n * n), "poisson", parts);
    }
    for (let i = 0; i < all.length; i++) expect(parts[i] - 1).toBeCloseTo(all[i], 10);
    // dL/dp (metres) by moving positions_m directly, along a random direction of all positions at once
    const dir = randomArray(rand, 2 * NPOS);
    const t = 1e-4 * dx;
    const lossM = (s: number) => {
      const d = new Float64Array(NPOS * n * n);
      ptychoIntensities(object, probe, positionsToPixels(POS_PX.map((p, i) => p * dx + s * dir[i]), dx, { height: H, width: W }, n), 0, NPOS, d);
      return ptychoLoss("poisson", d, measured, null);
    };
    const fd = (lossM(t) - lossM(-t)) / (2 * t);
    let analytic = 0;
    for (let i = 0; i < all.length; i++) analytic += (all[i] / dx) * dir[i];
    expect(Math.abs(fd - analytic) / Math.abs(analytic)).toBeLessThan(1e-6);
  });

  it("a probe displaced against the data is pulled back: descent moves the corner towards the truth", () => {
    // data measured at corners shifted by +0.3 px in y and -0.2 px in x from the model's
    const shifted = POS_PX.map((p, i) => p + (i % 2 === 0 ? 0.3 : -0.2));
    const d = new Float64Array(NPOS * n * n);
    ptychoIntensities(object, probe, windowsAt(shifted), 0, NPOS, d);
    const g = new Float64Array(2 * NPOS);
    ptychoPositionGradient(object, probe, windowsAt(POS_PX), 0, NPOS, d, "gaussian", g);
    let dotY = 0, dotX = 0;
    for (let j = 0; j < NPOS; j++) {
      dotY += -g[2 * j] * 0.3;
      dotX += -g[2 * j + 1] * -0.2;
    }
    expect(dotY).toBeGreaterThan(0);
    expect(dotX).toBeGreaterThan(0);
    expect(() => ptychoPositionGradient(object, probe, windowsAt(POS_PX), 0, NPOS, d, "gaussian", new Float64Array(3))).toThrow(/position gradient/);
  });
});
