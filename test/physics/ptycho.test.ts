import { describe, expect, it } from "vitest";
import { conjMul, mul } from "../../src/physics/complex.js";
import { positionsToPixels, subpixelShiftProbe, type ScanWindows } from "../../src/physics/geometry.js";
import { ptychoLoss, type PtychoNoiseModel } from "../../src/physics/losses.js";
import {
  extractWindow, ptychoGradient, ptychoIntensities, ptychoLossGradient, scatterWindow,
} from "../../src/physics/ptycho.js";
import { dot, maxAbsDiff, naiveCentredDft, naiveShift, randomArray, seeded } from "./helpers.js";

const H = 20, W = 24, n = 8, K = 2, dx = 1e-8;
// (y, x) in pixels from the object centre; fractional parts exercise the sub-pixel shift (one exact integer)
const posPx = [0, 0, -3.3, 4.45, 5.2, -7.9, 2.5, 1.25];
const win: ScanWindows = positionsToPixels(posPx.map((p) => p * dx), dx, { height: H, width: W }, n);
const npos = win.count;

function complexNear1(rand: () => number, count: number): Float64Array {
  const a = randomArray(rand, 2 * count, -0.3, 0.3);
  for (let i = 0; i < count; i++) a[2 * i] += 1;
  return a;
}

/** Independent float64 reference: naive-DFT sub-pixel shift and naive centred DFT. */
function referenceIntensities(object: Float64Array, probe: Float64Array, background: number): Float64Array {
  const nn = n * n, out = new Float64Array(npos * nn);
  for (let j = 0; j < npos; j++) {
    for (let k = 0; k < K; k++) {
      const q = naiveShift(probe.subarray(2 * nn * k, 2 * nn * (k + 1)), n, win.fy[j], win.fx[j]);
      const psi = new Float64Array(2 * nn);
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          const o = 2 * ((win.iy[j] + y) * W + win.ix[j] + x), i = 2 * (n * y + x);
          psi[i] = q[i] * object[o] - q[i + 1] * object[o + 1];
          psi[i + 1] = q[i] * object[o + 1] + q[i + 1] * object[o];
        }
      }
      const far = naiveCentredDft(psi, n, -1);
      for (let p = 0; p < nn; p++) out[j * nn + p] += far[2 * p] ** 2 + far[2 * p + 1] ** 2;
    }
    for (let p = 0; p < nn; p++) out[j * nn + p] += background;
  }
  return out;
}

describe("ptychography linear pieces: dot-product adjoint tests", () => {
  const rand = seeded(7);

  it("window extract S_j and scatter S_j^T are adjoint", () => {
    const obj = randomArray(rand, 2 * H * W), v = randomArray(rand, 2 * n * n);
    const sx = new Float64Array(2 * n * n), stv = new Float64Array(2 * H * W);
    extractWindow(obj, W, 5, 9, n, sx);
    scatterWindow(v, n, 5, 9, stv, W);
    expect(dot(sx, v)).toBeCloseTo(dot(obj, stv), 12);
    expect(sx[0]).toBe(obj[2 * (5 * W + 9)]);
  });

  it("probe multiply (with sub-pixel shift) is adjoint in the object window and in the probe", () => {
    const p = randomArray(rand, 2 * n * n), w = randomArray(rand, 2 * n * n), v = randomArray(rand, 2 * n * n);
    const q = new Float64Array(2 * n * n);
    subpixelShiftProbe(p, n, 0.3, -0.45, q);
    // as a function of the window: A w = (T_f P) . w, A^H v = conj(T_f P) . v
    const aw = new Float64Array(2 * n * n), ahv = new Float64Array(2 * n * n);
    mul(q, w, aw);
    conjMul(q, v, ahv);
    expect(dot(aw, v)).toBeCloseTo(dot(w, ahv), 12);
    // as a function of the probe: B P = (T_f P) . w, B^H v = T_{-f}(conj(w) . v)
    const bhv = new Float64Array(2 * n * n);
    conjMul(w, v, bhv);
    subpixelShiftProbe(bhv, n, -0.3, 0.45, bhv);
    expect(dot(aw, v)).toBeCloseTo(dot(p, bhv), 12);
  });
});

describe("ptychography forward model", () => {
  const rand = seeded(8);
  const object = complexNear1(rand, H * W);
  const probe = randomArray(rand, 2 * K * n * n);

  it("matches a naive float64 reference (K = 2 modes, sub-pixel shifts, background)", () => {
    const ref = referenceIntensities(object, probe, 0.25);
    const d64 = new Float64Array(npos * n * n);
    ptychoIntensities(object, probe, win, 0, npos, d64, 0.25);
    expect(maxAbsDiff(d64, ref) / Math.max(...ref)).toBeLessThan(1e-12);
    const d32 = new Float32Array(2 * n * n);
    ptychoIntensities(Float32Array.from(object), Float32Array.from(probe), win, 1, 2, d32, 0.25);
    expect(maxAbsDiff(d32, ref.subarray(n * n, 3 * n * n)) / Math.max(...ref)).toBeLessThan(1e-5);
  });

  it("rejects bad ranges and shapes", () => {
    const out = new Float64Array(n * n * npos);
    expect(() => ptychoIntensities(object, probe, win, 2, npos, out)).toThrow(/outside the scan/);
    expect(() => ptychoIntensities(object.subarray(2), probe, win, 0, 1, out)).toThrow(/object/);
    expect(() => ptychoIntensities(object, probe.subarray(2), win, 0, 1, out)).toThrow(/probe/);
  });
});

describe("ptychography gradient (finite differences, float64)", () => {
  const rand = seeded(9);
  const object = complexNear1(rand, H * W);
  const probe = randomArray(rand, 2 * K * n * n);
  const measured = new Float64Array(npos * n * n);
  ptychoIntensities(complexNear1(rand, H * W), probe, win, 0, npos, measured);
  for (let i = 0; i < measured.length; i++) measured[i] = i % 7 === 0 ? 0 : Math.round(measured[i] * 10) / 10;

  const loss = (model: PtychoNoiseModel, o: Float64Array, p: Float64Array): number => {
    const d = new Float64Array(npos * n * n);
    ptychoIntensities(o, p, win, 0, npos, d, 0.1);
    return ptychoLoss(model, d, measured, null);
  };

  for (const model of ["gaussian", "poisson", "weighted"] as const) {
    it(`${model}: dL/dO* and dL/dP* match central differences`, () => {
      const gO = new Float64Array(object.length), gP = new Float64Array(probe.length);
      const l = ptychoLossGradient(object, probe, win, 0, npos, measured, model, gO, gP, { background: 0.1 });
      expect(l).toBeCloseTo(loss(model, object, probe), 8);
      const eps = 1e-5;
      for (const [x, g] of [[object, gO], [probe, gP]] as const) {
        const h = randomArray(rand, x.length);
        const plus = x.map((v, i) => v + eps * h[i]), minus = x.map((v, i) => v - eps * h[i]);
        const fd = x === object
          ? (loss(model, plus, probe) - loss(model, minus, probe)) / (2 * eps)
          : (loss(model, object, plus) - loss(model, object, minus)) / (2 * eps);
        const analytic = 2 * dot(g, h); // dL = 2 Re <dL/dz*, dz>
        expect(Math.abs(fd - analytic) / Math.abs(analytic)).toBeLessThan(1e-6);
      }
    });
  }

  it("ptychoGradient with dl/dD equals the fused loss-gradient, and gradients accumulate", () => {
    const d = new Float64Array(npos * n * n), dldD = new Float64Array(npos * n * n);
    ptychoIntensities(object, probe, win, 0, npos, d);
    ptychoLoss("poisson", d, measured, dldD);
    const gO1 = new Float64Array(object.length).fill(1), gP1 = new Float64Array(probe.length);
    ptychoGradient(object, probe, win, 0, npos, dldD, gO1, gP1);
    const gO2 = new Float64Array(object.length).fill(1), gP2 = new Float64Array(probe.length);
    ptychoLossGradient(object, probe, win, 0, 2, measured.subarray(0, 2 * n * n), "poisson", gO2, gP2);
    ptychoLossGradient(object, probe, win, 2, npos - 2, measured.subarray(2 * n * n), "poisson", gO2, gP2);
    expect(maxAbsDiff(gO1, gO2)).toBeLessThan(1e-12);
    expect(maxAbsDiff(gP1, gP2)).toBeLessThan(1e-12);
    const gO3 = new Float64Array(object.length);
    ptychoGradient(object, probe, win, 0, npos, dldD, gO3, null);
    expect(maxAbsDiff(gO3.map((v) => v + 1), gO1)).toBeLessThan(1e-12);
  });
});
