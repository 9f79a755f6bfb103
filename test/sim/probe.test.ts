import { describe, expect, it } from "vitest";
import { beamDiameter_px, makeProbe } from "../../src/sim/probe.js";

/** Azimuthal average of an N x N intensity about (N/2, N/2), 1-px bins. */
function radialProfile(intensity: ArrayLike<number>, n: number): number[] {
  const sum: number[] = [], count: number[] = [];
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const r = Math.round(Math.hypot(y - n / 2, x - n / 2));
      sum[r] = (sum[r] ?? 0) + intensity[n * y + x];
      count[r] = (count[r] ?? 0) + 1;
    }
  }
  return sum.map((s, r) => s / count[r]);
}

/** Radii (> 0, within N/2) of secondary maxima holding at least 1e-3 of the peak. */
function secondaryMaxima(intensity: ArrayLike<number>, n: number): number[] {
  const p = radialProfile(intensity, n), peak = Math.max(...p);
  const out: number[] = [];
  for (let r = 1; r < n / 2; r++) if (p[r] > p[r - 1] && p[r] > p[r + 1] && p[r] > 1e-3 * peak) out.push(r);
  return out;
}

function intensityOf(data: Float32Array, n: number, mode = 0): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) out[i] = data[2 * (mode * n * n + i)] ** 2 + data[2 * (mode * n * n + i) + 1] ** 2;
  return out;
}

const gaussian = (n: number, w: number) => {
  const g = new Float64Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) g[n * y + x] = Math.exp((-2 * ((y - n / 2) ** 2 + (x - n / 2) ** 2)) / (w * w));
  return g;
};

describe("zone-plate probe", () => {
  const spec = { n: 64, modes: 1, photons: 1e6, pupilRadius_px: 9, centralStop: 0.3, defocusWaves: 0.5 };

  it("is a centred focused spot with rings, normalised to the photon count", () => {
    const p = makeProbe(spec);
    const I = intensityOf(p.data, 64);
    expect(I.reduce((a, b) => a + b, 0)).toBeCloseTo(1e6, -1);
    let cy = 0, cx = 0;
    I.forEach((v, i) => { cy += v * Math.floor(i / 64); cx += v * (i % 64); });
    expect(cy / 1e6).toBeCloseTo(32, 0);
    expect(cx / 1e6).toBeCloseTo(32, 0);
    const profile = radialProfile(I, 64);
    expect(profile.indexOf(Math.max(...profile))).toBe(0);
    expect(secondaryMaxima(I, 64).length).toBeGreaterThanOrEqual(2);
    // the ring detector does fail on a Gaussian blob
    expect(secondaryMaxima(gaussian(64, 10), 64)).toEqual([]);
    const d = beamDiameter_px(I, 64);
    expect(d).toBeGreaterThan(0.2 * 64);
    expect(d).toBeLessThan(0.45 * 64);
  });

  it("has a phase structure (not a real blob) and scales the spot as 1 / pupil radius", () => {
    const p = makeProbe(spec);
    let phaseSpread = 0;
    for (let i = 0; i < 64 * 64; i++) phaseSpread = Math.max(phaseSpread, Math.abs(Math.atan2(p.data[2 * i + 1], p.data[2 * i])));
    expect(phaseSpread).toBeGreaterThan(1);
    const wide = makeProbe({ ...spec, pupilRadius_px: 4.5 });
    const ratio = beamDiameter_px(intensityOf(wide.data, 64), 64) / beamDiameter_px(intensityOf(p.data, 64), 64);
    expect(ratio).toBeGreaterThan(1.6);
    expect(ratio).toBeLessThan(2.4);
  });

  it("makes orthogonal modes with power fractions 2^-k summing to the photon count", () => {
    const n = 32, p = makeProbe({ ...spec, n, modes: 3, pupilRadius_px: 8 });
    expect(p.modes).toBe(3);
    const powers = [0, 1, 2].map((k) => intensityOf(p.data, n, k).reduce((a, b) => a + b, 0));
    expect(powers[0] / 1e6).toBeCloseTo(4 / 7, 5);
    expect(powers[1] / 1e6).toBeCloseTo(2 / 7, 5);
    expect(powers[2] / 1e6).toBeCloseTo(1 / 7, 5);
    for (const [a, b] of [[0, 1], [0, 2], [1, 2]]) {
      let re = 0, im = 0;
      for (let i = 0; i < n * n; i++) {
        const ar = p.data[2 * (a * n * n + i)], ai = p.data[2 * (a * n * n + i) + 1];
        const br = p.data[2 * (b * n * n + i)], bi = p.data[2 * (b * n * n + i) + 1];
        re += ar * br + ai * bi;
        im += ar * bi - ai * br;
      }
      expect(Math.hypot(re, im) / Math.sqrt(powers[a] * powers[b])).toBeLessThan(1e-5);
    }
  });

  it("beam diameter is the 1/e^2 diameter for a Gaussian beam", () => {
    expect(beamDiameter_px(gaussian(64, 8), 64)).toBeGreaterThan(15);
    expect(beamDiameter_px(gaussian(64, 8), 64)).toBeLessThan(17);
    expect(() => beamDiameter_px(new Float64Array(64), 8)).toThrow(/zero/);
  });

  it("rejects impossible parameters", () => {
    expect(() => makeProbe({ ...spec, pupilRadius_px: 40 })).toThrow(/pupil radius/);
    expect(() => makeProbe({ ...spec, modes: 0 })).toThrow(/modes/);
    expect(() => makeProbe({ ...spec, n: 48 })).toThrow(/power of two/);
  });
});
