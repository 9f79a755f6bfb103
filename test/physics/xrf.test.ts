import { describe, expect, it } from "vitest";
import { positionsToPixels } from "../../src/physics/geometry.js";
import { xrfLoss } from "../../src/physics/losses.js";
import { probeIntensity, xrfAdjoint, xrfForward, xrfProbeGradient } from "../../src/physics/xrf.js";
import { dot, maxAbsDiff, naiveShift, randomArray, seeded } from "./helpers.js";

const H = 18, W = 22, n = 8, K = 2, dx = 1e-8;
const win = positionsToPixels([0, 0, -3.3, 4.45, 4.8, -6.1, 2, -1].map((p) => p * dx), dx, { height: H, width: W }, n);
const npos = win.count;
const sens = { Fe: 2.5, Zn: 0.7 };
const rand = seeded(31);
const maps = { Fe: randomArray(rand, H * W, 0, 1), Zn: randomArray(rand, H * W, 0, 1) };
const probe = randomArray(rand, 2 * K * n * n);
const forward = (m: Record<string, Float64Array>, p: Float64Array) => {
  const out = { Fe: new Float64Array(npos), Zn: new Float64Array(npos) };
  xrfForward(m, sens, p, win, 0, npos, out);
  return out;
};

describe("XRF forward model", () => {
  it("matches a naive float64 reference with the sub-pixel-shifted probe intensity", () => {
    const out = forward(maps, probe);
    for (let j = 0; j < npos; j++) {
      const intensity = new Float64Array(n * n);
      for (let k = 0; k < K; k++) {
        const q = naiveShift(probe.subarray(2 * n * n * k, 2 * n * n * (k + 1)), n, win.fy[j], win.fx[j]);
        for (let u = 0; u < n * n; u++) intensity[u] += q[2 * u] ** 2 + q[2 * u + 1] ** 2;
      }
      const mine = new Float64Array(n * n);
      probeIntensity(probe, n, win.fy[j], win.fx[j], mine);
      expect(maxAbsDiff(mine, intensity)).toBeLessThan(1e-12);
      for (const el of ["Fe", "Zn"] as const) {
        let s = 0;
        for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) s += intensity[n * y + x] * maps[el][(win.iy[j] + y) * W + win.ix[j] + x];
        expect(out[el][j]).toBeCloseTo(sens[el] * s, 10);
      }
    }
  });

  it("computes sub-ranges into range-local outputs", () => {
    const all = forward(maps, probe);
    const part = { Fe: new Float32Array(2), Zn: new Float32Array(2) };
    xrfForward(maps, sens, Float32Array.from(probe), win, 1, 2, part);
    expect(maxAbsDiff(part.Fe, all.Fe.subarray(1, 3)) / Math.max(...all.Fe)).toBeLessThan(1e-5);
    expect(() => xrfForward(maps, sens, probe, win, 3, 2, part)).toThrow(/outside the scan/);
    expect(() => xrfForward({ Fe: new Float64Array(5), Zn: maps.Zn }, sens, probe, win, 0, 1, part)).toThrow(/map Fe/);
    expect(() => xrfForward({ Fe: maps.Fe }, sens, probe, win, 0, 1, part)).toThrow(/maps for \[Fe\] but per-position values for \[Fe,Zn\]/);
    expect(() => xrfForward(maps, sens, probe, win, 0, 3, part)).toThrow(/2 values for 3 positions/);
  });

  it("adjoint passes the dot-product test <X c, r> = <c, X^T r>", () => {
    const r = { Fe: randomArray(rand, npos), Zn: randomArray(rand, npos) };
    const g = { Fe: new Float64Array(H * W), Zn: new Float64Array(H * W) };
    xrfAdjoint(r, sens, probe, win, 0, npos, g);
    const x = forward(maps, probe);
    const lhs = dot(x.Fe, r.Fe) + dot(x.Zn, r.Zn);
    const rhs = dot(maps.Fe, g.Fe) + dot(maps.Zn, g.Zn);
    expect(lhs).toBeCloseTo(rhs, 10);
    expect(Math.abs(lhs)).toBeGreaterThan(1e-3);
  });

  it("gradients of the least-squares and Poisson losses w.r.t. maps and probe match finite differences", () => {
    const measured = forward({ Fe: randomArray(rand, H * W, 0, 1), Zn: randomArray(rand, H * W, 0, 1) }, probe);
    for (const model of ["lsq", "poisson"] as const) {
      const loss = (m: Record<string, Float64Array>, p: Float64Array) => {
        const x = forward(m, p);
        return xrfLoss(model, x.Fe, measured.Fe, null) + xrfLoss(model, x.Zn, measured.Zn, null);
      };
      const x = forward(maps, probe);
      const r = { Fe: new Float64Array(npos), Zn: new Float64Array(npos) };
      xrfLoss(model, x.Fe, measured.Fe, r.Fe);
      xrfLoss(model, x.Zn, measured.Zn, r.Zn);
      const gMaps = { Fe: new Float64Array(H * W), Zn: new Float64Array(H * W) };
      const gProbe = new Float64Array(probe.length);
      xrfAdjoint(r, sens, probe, win, 0, npos, gMaps);
      xrfProbeGradient(r, maps, sens, probe, win, 0, npos, gProbe);
      const eps = 1e-6;
      const hFe = randomArray(rand, H * W), hZn = randomArray(rand, H * W);
      const shifted = (s: number) => ({ Fe: maps.Fe.map((v, i) => v + s * hFe[i]), Zn: maps.Zn.map((v, i) => v + s * hZn[i]) });
      const fdMaps = (loss(shifted(eps), probe) - loss(shifted(-eps), probe)) / (2 * eps);
      const anMaps = dot(gMaps.Fe, hFe) + dot(gMaps.Zn, hZn);
      expect(Math.abs(fdMaps - anMaps) / Math.abs(anMaps)).toBeLessThan(1e-6);
      const h = randomArray(rand, probe.length);
      const fdProbe = (loss(maps, probe.map((v, i) => v + eps * h[i])) - loss(maps, probe.map((v, i) => v - eps * h[i]))) / (2 * eps);
      const anProbe = 2 * dot(gProbe, h);
      expect(Math.abs(fdProbe - anProbe) / Math.abs(anProbe)).toBeLessThan(1e-6);
    }
  });
});
