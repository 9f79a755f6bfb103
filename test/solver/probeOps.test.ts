import { describe, expect, it } from "vitest";
import { fft2 } from "../../src/physics/fft.js";
import { subpixelShiftProbe } from "../../src/physics/geometry.js";
import {
  hermitianEigen, inverseFactor, modeOverlap, normaliseProbePhase, orthogonaliseProbeModes, probeCentreOfMass,
  recentreProbe, scaleComplex, shiftImage, shiftRealImage,
} from "../../src/solver/probeOps.js";
import { randomArray, seeded } from "../physics/helpers.js";

/** Random Hermitian K x K (interleaved, row-major). */
function randomHermitian(rand: () => number, k: number): Float64Array {
  const a = new Float64Array(2 * k * k);
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) {
      const re = 2 * rand() - 1, im = i === j ? 0 : 2 * rand() - 1;
      a[2 * (k * i + j)] = re; a[2 * (k * i + j) + 1] = im;
      a[2 * (k * j + i)] = re; a[2 * (k * j + i) + 1] = -im;
    }
  }
  return a;
}

/** ||A V - V diag(values)||_max and ||V^H V - I||_max. */
function eigenResiduals(a: Float64Array, k: number, values: Float64Array, v: Float64Array): [number, number] {
  let r1 = 0, r2 = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let sr = 0, si = 0, gr = 0, gi = 0;
      for (let m = 0; m < k; m++) {
        const ar = a[2 * (k * i + m)], ai = a[2 * (k * i + m) + 1], vr = v[2 * (k * m + j)], vi = v[2 * (k * m + j) + 1];
        sr += ar * vr - ai * vi; si += ar * vi + ai * vr;
        const ur = v[2 * (k * m + i)], ui = v[2 * (k * m + i) + 1]; // conj(V_mi) V_mj
        gr += ur * vr + ui * vi; gi += ur * vi - ui * vr;
      }
      r1 = Math.max(r1, Math.hypot(sr - values[j] * v[2 * (k * i + j)], si - values[j] * v[2 * (k * i + j) + 1]));
      r2 = Math.max(r2, Math.hypot(gr - (i === j ? 1 : 0), gi));
    }
  }
  return [r1, r2];
}

function totalIntensity(probe: ArrayLike<number>, n: number): Float64Array {
  const nn = n * n, out = new Float64Array(nn);
  for (let m = 0; m < probe.length / (2 * nn); m++) for (let i = 0; i < nn; i++) out[i] += probe[2 * (m * nn + i)] ** 2 + probe[2 * (m * nn + i) + 1] ** 2;
  return out;
}

/** Complex Gaussian blob modes centred at (cy, cx) with a phase curvature, K x N x N. */
function blobProbe(n: number, cy: number, cx: number, sigma: number, modes = 1): Float64Array {
  const p = new Float64Array(2 * modes * n * n);
  for (let m = 0; m < modes; m++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const r2 = (y - cy) ** 2 + (x - cx) ** 2;
        const a = Math.exp(-r2 / (2 * sigma * sigma)) * (1 + m * (x - cx) / sigma) / (m + 1);
        const ph = 0.05 * r2 + 0.7 * m + 1.1;
        p[2 * (m * n * n + n * y + x)] = a * Math.cos(ph);
        p[2 * (m * n * n + n * y + x) + 1] = a * Math.sin(ph);
      }
    }
  }
  return p;
}

/** A smooth random complex H x W image (a sum of a few low-frequency waves). */
function smoothObject(h: number, w: number, seed: number): Float64Array {
  const rand = seeded(seed), o = new Float64Array(2 * h * w);
  const waves = Array.from({ length: 6 }, () => [(rand() - 0.5) * 0.5, (rand() - 0.5) * 0.5, 2 * Math.PI * rand(), 0.3 * rand()]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let ph = 0, amp = 1;
      for (const [ky, kx, p0, a] of waves) { ph += a * Math.sin(ky * y + kx * x + p0); amp += 0.3 * a * Math.cos(kx * y - ky * x + p0); }
      o[2 * (y * w + x)] = amp * Math.cos(ph);
      o[2 * (y * w + x) + 1] = amp * Math.sin(ph);
    }
  }
  return o;
}

function exitWave(probe: ArrayLike<number>, object: ArrayLike<number>, width: number, iy: number, ix: number, n: number, mode = 0): Float64Array {
  const psi = new Float64Array(2 * n * n), o = 2 * mode * n * n;
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    const pr = probe[o + 2 * (n * y + x)], pi = probe[o + 2 * (n * y + x) + 1];
    const j = 2 * ((iy + y) * width + ix + x), or = object[j], oi = object[j + 1];
    psi[2 * (n * y + x)] = pr * or - pi * oi;
    psi[2 * (n * y + x) + 1] = pr * oi + pi * or;
  }
  return psi;
}

function farIntensity(psi: Float64Array, n: number): Float64Array {
  const f = Float64Array.from(psi);
  fft2(n).forward(f);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) out[i] = f[2 * i] ** 2 + f[2 * i + 1] ** 2;
  return out;
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  return Math.sqrt(num / den);
}

describe("hermitianEigen (complex Jacobi)", () => {
  it("diagonalises random Hermitian matrices K = 1..8 with a unitary V, values decreasing", () => {
    const rand = seeded(11);
    for (let k = 1; k <= 8; k++) {
      const a = randomHermitian(rand, k);
      const { values, vectors } = hermitianEigen(a, k);
      const [r1, r2] = eigenResiduals(a, k, values, vectors);
      expect(r1).toBeLessThan(1e-12);
      expect(r2).toBeLessThan(1e-12);
      for (let j = 1; j < k; j++) expect(values[j]).toBeLessThanOrEqual(values[j - 1]);
      let trace = 0, sum = 0;
      for (let i = 0; i < k; i++) { trace += a[2 * (k * i + i)]; sum += values[i]; }
      expect(sum).toBeCloseTo(trace, 12);
    }
  });

  it("handles degenerate and diagonal matrices", () => {
    const k = 4, rand = seeded(12);
    // B = U diag(3, 3, 1, 0) U^H from the eigenvectors of a random Hermitian matrix
    const { vectors: u } = hermitianEigen(randomHermitian(rand, k), k);
    const d = [3, 3, 1, 0], b = new Float64Array(2 * k * k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let m = 0; m < k; m++) {
      const ar = u[2 * (k * i + m)], ai = u[2 * (k * i + m) + 1], cr = u[2 * (k * j + m)], ci = -u[2 * (k * j + m) + 1];
      b[2 * (k * i + j)] += d[m] * (ar * cr - ai * ci);
      b[2 * (k * i + j) + 1] += d[m] * (ar * ci + ai * cr);
    }
    const e = hermitianEigen(b, k);
    expect(Array.from(e.values).map((v) => +v.toFixed(10))).toEqual([3, 3, 1, 0]);
    expect(Math.max(...eigenResiduals(b, k, e.values, e.vectors))).toBeLessThan(1e-12);
    const diag = new Float64Array(2 * 9);
    diag[0] = 1; diag[8] = 5; diag[16] = 2;
    const e2 = hermitianEigen(diag, 3);
    expect(Array.from(e2.values)).toEqual([5, 2, 1]);
    expect(Math.max(...eigenResiduals(diag, 3, e2.values, e2.vectors))).toBe(0);
    expect(() => hermitianEigen(new Float64Array(5), 2)).toThrow(/2 x 2/);
  });
});

describe("orthogonaliseProbeModes", () => {
  const n = 16;

  it("makes the modes orthogonal, sorted by power, preserving the pointwise total intensity", () => {
    const rand = seeded(13);
    for (const k of [2, 3, 5]) {
      const probe = randomArray(rand, 2 * k * n * n);
      // make them strongly non-orthogonal
      for (let i = 0; i < 2 * n * n; i++) for (let m = 1; m < k; m++) probe[2 * m * n * n + i] += 0.8 * probe[i];
      const before = totalIntensity(probe, n);
      const { powers } = orthogonaliseProbeModes(probe, n);
      const after = totalIntensity(probe, n);
      expect(relDiff(after, before)).toBeLessThan(1e-13);
      const a = modeOverlap(probe, n);
      for (let i = 0; i < k; i++) {
        expect(a[2 * (k * i + i)]).toBeCloseTo(powers[i], 9);
        if (i > 0) expect(powers[i]).toBeLessThanOrEqual(powers[i - 1]);
        for (let j = 0; j < k; j++) if (i !== j) expect(Math.hypot(a[2 * (k * i + j)], a[2 * (k * i + j) + 1])).toBeLessThan(1e-10 * powers[0]);
      }
    }
  });

  it("leaves the incoherent diffraction pattern unchanged; works on float32; K = 1 untouched", () => {
    const k = 3, probe = blobProbe(n, 8, 8, 2.5, k), obj = smoothObject(n, n, 3);
    const pattern = (p: ArrayLike<number>) => {
      const out = new Float64Array(n * n);
      for (let m = 0; m < k; m++) farIntensity(exitWave(p, obj, n, 0, 0, n, m), n).forEach((v, i) => (out[i] += v));
      return out;
    };
    const before = pattern(probe);
    const p32 = Float32Array.from(probe);
    orthogonaliseProbeModes(probe, n);
    orthogonaliseProbeModes(p32, n);
    expect(relDiff(pattern(probe), before)).toBeLessThan(1e-12);
    expect(relDiff(pattern(p32), before)).toBeLessThan(1e-5);
    const one = blobProbe(n, 8, 8, 2.5, 1), copy = Float64Array.from(one);
    expect(orthogonaliseProbeModes(one, n).powers[0]).toBeCloseTo(totalIntensity(copy, n).reduce((s, v) => s + v, 0), 10);
    expect(one).toEqual(copy);
  });
});

describe("shiftImage", () => {
  const H = 40, W = 52;
  const f = (y: number, x: number) => [Math.exp(-((y - 19) ** 2 + (x - 27) ** 2) / 40), Math.cos(0.2 * y) * Math.exp(-((y - 20) ** 2 + (x - 25) ** 2) / 60)];
  const image = (dy = 0, dx = 0) => {
    const o = new Float64Array(2 * H * W);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) [o[2 * (y * W + x)], o[2 * (y * W + x) + 1]] = f(y - dy, x - dx);
    return o;
  };

  const interior = (a: Float64Array) => {
    const out: number[] = [];
    for (let y = 6; y < H - 6; y++) for (let x = 6; x < W - 6; x++) out.push(a[2 * (y * W + x)], a[2 * (y * W + x) + 1]);
    return out;
  };

  it("moves content towards larger indices for positive shifts (whole and sub-pixel)", () => {
    for (const [dy, dx] of [[3, -2], [0.4, -0.3], [2.5, 1.25]]) {
      const shifted = shiftImage(image(), H, W, dy, dx);
      expect(relDiff(interior(shifted), interior(image(dy, dx)))).toBeLessThan(dy % 1 === 0 && dx % 1 === 0 ? 1e-12 : 1e-3);
    }
  });

  it("whole-pixel shifts are exact index moves with mirrored edges", () => {
    const img = randomArray(seeded(14), 2 * H * W);
    const s = shiftImage(Float64Array.from(img), H, W, 2, -3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const sy = y - 2 < 0 ? -(y - 2) - 1 : y - 2; // mirror: index -1 -> 0, -2 -> 1
      const sx = x + 3 >= W ? 2 * W - 1 - (x + 3) : x + 3;
      expect(s[2 * (y * W + x)]).toBe(img[2 * (sy * W + sx)]);
      expect(s[2 * (y * W + x) + 1]).toBe(img[2 * (sy * W + sx) + 1]);
    }
  });

  it("agrees with subpixelShiftProbe on a compact image and the real version with the complex one", () => {
    const n = 32, p = blobProbe(n, 15, 17, 2.5);
    const a = shiftImage(Float64Array.from(p), n, n, 0.37, -0.61);
    const b = new Float64Array(p.length);
    subpixelShiftProbe(p, n, 0.37, -0.61, b);
    expect(relDiff(a, b)).toBeLessThan(1e-6);
    const re = new Float64Array(H * W), cx = new Float64Array(2 * H * W), img = image();
    for (let i = 0; i < H * W; i++) re[i] = cx[2 * i] = img[2 * i];
    shiftRealImage(re, H, W, -0.7, 1.3);
    shiftImage(cx, H, W, -0.7, 1.3);
    for (let i = 0; i < H * W; i++) expect(re[i]).toBeCloseTo(cx[2 * i], 12);
    expect(() => shiftImage(new Float64Array(10), 2, 3, 0, 1)).toThrow(/2 x 3/);
  });
});

describe("recentreProbe", () => {
  const n = 32, H = 72, W = 80;
  const corners: [number, number][] = [[12, 14], [20, 30], [28, 40], [17, 25]];

  it("moves the intensity centre of mass to (N/2, N/2) and returns the shift", () => {
    const one = blobProbe(n, 16 + 3.3, 16 - 2.1, 2);
    expect(probeCentreOfMass(one, n)[0]).toBeCloseTo(19.3, 8);
    expect(probeCentreOfMass(one, n)[1]).toBeCloseTo(13.9, 8);
    const p = blobProbe(n, 16 + 3.3, 16 - 2.1, 2, 2);
    const [by, bx] = probeCentreOfMass(p, n);
    const d = recentreProbe(p, n);
    expect(d.dy).toBeCloseTo(16 - by, 12);
    expect(d.dx).toBeCloseTo(16 - bx, 12);
    const [cy, cx] = probeCentreOfMass(p, n);
    expect(cy).toBeCloseTo(16, 4);
    expect(cx).toBeCloseTo(16, 4);
    const q = blobProbe(n, 16 + 3.3, 16 - 2.1, 2);
    expect(recentreProbe(q, n, { subpixel: false })).toEqual({ dy: -3, dx: 2 });
    const r = blobProbe(n, 16.1, 16, 2), r0 = Float64Array.from(r);
    expect(recentreProbe(r, n, { minShift_px: 0.5 })).toEqual({ dy: 0, dx: 0 });
    expect(r).toEqual(r0);
  });

  for (const subpixel of [false, true]) {
    it(`with the object shifted by the same d, every diffraction pattern is unchanged (${subpixel ? "sub-pixel" : "whole-pixel"})`, () => {
      const probe = blobProbe(n, 16 + 3.4, 16 - 2.3, 1.8);
      const obj = smoothObject(H, W, 5);
      const before = corners.map(([iy, ix]) => exitWave(probe, obj, W, iy, ix, n));
      const p2 = Float64Array.from(probe);
      const { dy, dx } = recentreProbe(p2, n, { subpixel });
      const o2 = shiftImage(Float64Array.from(obj), H, W, dy, dx);
      const tol = subpixel ? 2e-5 : 1e-12; // sub-pixel: interpolation of a smooth object (measured 5e-6, 2e-8 on intensities)
      let worst = 0;
      corners.forEach(([iy, ix], j) => {
        const after = exitWave(p2, o2, W, iy, ix, n);
        // the exit wave moves by d inside its window ...
        const moved = new Float64Array(before[j].length);
        subpixelShiftProbe(before[j], n, dy, dx, moved);
        expect(relDiff(after, moved)).toBeLessThan(tol);
        // ... so its far-field intensity is unchanged
        const e = relDiff(farIntensity(after, n), farIntensity(before[j], n));
        expect(e).toBeLessThan(tol);
        worst = Math.max(worst, e);
      });
      // the opposite sign does change the data
      const o3 = shiftImage(Float64Array.from(obj), H, W, -dy, -dx);
      const wrong = relDiff(farIntensity(exitWave(p2, o3, W, 20, 30, n), n), farIntensity(before[1], n));
      expect(wrong).toBeGreaterThan(Math.max(0.01, 20 * worst));
    });
  }
});

describe("normaliseProbePhase", () => {
  it("zeroes the intensity-weighted mean phase; the object times 1/a keeps P O exactly", () => {
    const n = 16, H = 24, W = 24;
    const probe = blobProbe(n, 8, 8, 2.5, 2), obj = smoothObject(H, W, 7);
    const before = exitWave(probe, obj, W, 4, 5, n);
    const { factor, phase } = normaliseProbePhase(probe, n);
    expect(Math.hypot(...factor)).toBeCloseTo(1, 14);
    expect(phase).not.toBeCloseTo(0, 2);
    let sr = 0, si = 0;
    for (let i = 0; i < probe.length; i += 2) { const a = Math.hypot(probe[i], probe[i + 1]); sr += a * probe[i]; si += a * probe[i + 1]; }
    expect(Math.abs(Math.atan2(si, sr))).toBeLessThan(1e-12);
    scaleComplex(obj, inverseFactor(factor));
    expect(relDiff(exitWave(probe, obj, W, 4, 5, n), before)).toBeLessThan(1e-14);
    // a second call is a no-op
    expect(normaliseProbePhase(probe, n).phase).toBeCloseTo(0, 12);
    expect(normaliseProbePhase(new Float64Array(2 * n * n), n)).toEqual({ factor: [1, 0], phase: 0 });
  });
});
