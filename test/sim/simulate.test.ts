import { describe, expect, it } from "vitest";
import { extractWindow } from "../../src/physics/ptycho.js";
import { pixelSize_m, positionsToPixels, subpixelShiftProbe } from "../../src/physics/geometry.js";
import { xrfForward } from "../../src/physics/xrf.js";
import { PRESETS, resolveConfig } from "../../src/sim/presets.js";
import { simulate } from "../../src/sim/simulate.js";

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sum = (x: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
};

describe("simulate: determinism and lazy frames", () => {
  const a = simulate({ preset: "small", seed: 3 });

  it("gives identical bytes for the same seed and different data for another seed", () => {
    const b = simulate({ preset: "small", seed: 3 });
    const c = simulate({ preset: "small", seed: 4 });
    expect(bytes(b.frames.frames(0, a.header.npos)).equals(bytes(a.frames.frames(0, a.header.npos)))).toBe(true);
    expect(b.header).toEqual(a.header);
    expect(b.truth).toEqual(a.truth);
    expect(bytes(c.frames.frames(0, 4)).equals(bytes(a.frames.frames(0, 4)))).toBe(false);
    expect(c.truth.elementMaps.Fe).not.toEqual(a.truth.elementMaps.Fe);
  });

  it("frames do not depend on block boundaries", () => {
    const n2 = a.header.frameSize ** 2;
    const whole = a.frames.frames(0, 10);
    expect(whole.length).toBe(10 * n2);
    const joined = new Uint32Array(10 * n2);
    joined.set(a.frames.frames(0, 5), 0);
    joined.set(a.frames.frames(5, 5), 5 * n2);
    expect(bytes(joined).equals(bytes(whole))).toBe(true);
    expect(bytes(a.frames.frames(7, 1)).equals(bytes(whole.subarray(7 * n2, 8 * n2)))).toBe(true);
    expect(() => a.frames.frames(30, 10)).toThrow(/outside the scan's 36 positions/);
  });

  it("Poisson frames are uint32 counts around the noiseless model", () => {
    expect(a.frames.dtype).toBe("uint32");
    const noisy = a.frames.frames(0, a.header.npos);
    expect(noisy).toBeInstanceOf(Uint32Array);
    const clean = simulate({ preset: "small", seed: 3, noise: { kind: "none" } }).frames.frames(0, a.header.npos);
    expect(Math.abs(sum(noisy) / sum(clean) - 1)).toBeLessThan(5 / Math.sqrt(sum(clean)));
    expect(bytes(noisy).equals(bytes(Uint32Array.from(clean, Math.round)))).toBe(false);
  });
});

describe("simulate: physics of the synthetic data", () => {
  const s = simulate({ preset: "small", seed: 2, noise: { kind: "none" }, probeModes: 2 });
  const { header, truth } = s;
  const n = header.frameSize, nn = n * n;

  it("uses a pixel size from the metadata and the documented position convention", () => {
    const m = header.metadata;
    expect(truth.pixelSize_m).toBe(pixelSize_m(m.energy_keV, m.detector_distance_m, n, m.detector_pixel_size_m));
    const w = positionsToPixels(header.positions, truth.pixelSize_m, truth.object, n);
    expect(Array.from(w.corner)).toEqual(Array.from(truth.positions_px));
    expect(header.positions).toEqual(truth.positions_m);
    expect(header.xrf.raster).toEqual([6, 6]);
  });

  it("noiseless diffraction sums equal the exit-wave energy (Parseval)", () => {
    const frames = s.frames.frames(0, header.npos);
    const w = positionsToPixels(header.positions, truth.pixelSize_m, truth.object, n);
    const probe = new Float64Array(truth.probe.data.length);
    const win = new Float64Array(2 * nn);
    for (let j = 0; j < header.npos; j++) {
      subpixelShiftProbe(Float64Array.from(truth.probe.data), n, w.fy[j], w.fx[j], probe);
      extractWindow(Float64Array.from(truth.object.data), truth.object.width, w.iy[j], w.ix[j], n, win);
      let energy = 0;
      for (let k = 0; k < truth.probe.modes; k++) {
        for (let i = 0; i < nn; i++) {
          const pr = probe[2 * (k * nn + i)], pi = probe[2 * (k * nn + i) + 1];
          energy += (pr * win[2 * i] - pi * win[2 * i + 1]) ** 2 + (pr * win[2 * i + 1] + pi * win[2 * i]) ** 2;
        }
      }
      let total = 0;
      for (let i = 0; i < nn; i++) total += frames[j * nn + i];
      expect(total / energy).toBeCloseTo(1, 5);
    }
    // absorption is a few percent at most: energy close to the dose
    expect(sum(frames.subarray(0, nn)) / 1e6).toBeGreaterThan(0.9);
  });

  it("noiseless XRF maps equal xrfForward of the truth", () => {
    const w = positionsToPixels(header.positions, truth.pixelSize_m, truth.object, n);
    const sens = Object.fromEntries(header.xrf.elements.map((e) => [e.symbol, e.sensitivity]));
    const out = { Fe: new Float32Array(header.npos), Zn: new Float32Array(header.npos) };
    xrfForward(truth.elementMaps, sens, truth.probe.data, w, 0, header.npos, out);
    expect(header.xrf.maps).toEqual(out);
    expect(Math.max(...out.Fe)).toBeGreaterThan(10);
  });

  it("exponential link: physical coefficients in header and truth, ~1 rad phase, a few % absorption", () => {
    const link = truth.link;
    if (link.type !== "exponential") throw new Error("expected an exponential link");
    for (const e of header.xrf.elements) {
      expect(link.coefficients[e.symbol]).toEqual({ beta: e.beta, delta: e.delta });
      expect(e.sensitivity).toBeGreaterThan(0);
    }
    expect(header.metadata.matrix_beta).toBe(link.matrix.beta);
    expect(header.metadata.matrix_delta).toBe(link.matrix.delta);
    let minPhase = 0, minAmp = 1;
    for (let p = 0; p < truth.object.height * truth.object.width; p++) {
      const re = truth.object.data[2 * p], im = truth.object.data[2 * p + 1];
      minPhase = Math.min(minPhase, Math.atan2(im, re));
      minAmp = Math.min(minAmp, Math.hypot(re, im));
    }
    expect(minPhase).toBeLessThan(-0.5);
    expect(minPhase).toBeGreaterThan(-1.6);
    expect(minAmp ** 2).toBeGreaterThan(0.85);
    expect(minAmp ** 2).toBeLessThan(0.99);
    expect(truth.probe.modes).toBe(2);
  });
});

describe("simulate: presets and options", () => {
  it("paper preset: n = 154, m = 64, overlap 0.5, 3 % Gaussian noise, linear link O = sum c_e + i m", () => {
    const s = simulate({ preset: "paper" });
    expect(s.truth.object.height).toBe(154);
    expect(s.truth.object.width).toBe(154);
    expect(s.header.frameSize).toBe(64);
    expect(s.truth.provenance.overlap).toBe(0.5);
    expect(s.config.noise).toEqual({ kind: "gaussian", level: 0.03 });
    expect(s.frames.dtype).toBe("float32");
    expect(s.truth.link).toEqual({ type: "linear", weights: { Fe: 1, Zn: 1 } });
    expect(Object.keys(s.header.xrf.maps)).toEqual(["Fe", "Zn"]);
    const p = s.truth.object.data, { Fe, Zn } = s.truth.elementMaps;
    for (const i of [0, 5000, 11858, 20000]) {
      expect(p[2 * i]).toBeCloseTo(Fe[i] + Zn[i], 6);
      expect(p[2 * i + 1]).toBeCloseTo(s.truth.matrix[i], 6);
    }
    // the Gaussian noise is 3 % of each value
    const clean = simulate({ preset: "paper", noise: { kind: "none" } });
    const a = s.frames.frames(40, 2), b = clean.frames.frames(40, 2);
    let s2 = 0, count = 0;
    for (let i = 0; i < a.length; i++) if (b[i] > 1) { s2 += (a[i] / b[i] - 1) ** 2; count++; }
    expect(Math.sqrt(s2 / count)).toBeCloseTo(0.03, 2);
    const xa = s.header.xrf.maps.Fe, xb = clean.header.xrf.maps.Fe;
    expect(Array.from(xa).some((v, i) => v !== xb[i])).toBe(true);
  });

  it("bench and large presets have the documented sizes; large is over 1 GB of frames", () => {
    expect(PRESETS.bench).toMatchObject({ objectSize: 256, probeSize: 64, scan: { grid: [20, 20] }, link: "exponential" });
    const large = resolveConfig({ preset: "large" });
    const [ny, nx] = large.scan.grid!;
    expect(ny * nx * large.probeSize ** 2 * 4).toBeGreaterThanOrEqual(2 ** 30);
  });

  it("options override preset fields: elements, modes, Fermat scans, sizes", () => {
    const s = simulate({ preset: "small", elements: ["Fe", "Zn", "Cu"], probeModes: 2, scan: { pattern: "fermat", npos: 20 }, objectSize: 72, seed: 9 });
    expect(s.header.xrf.elements.map((e) => e.symbol)).toEqual(["Fe", "Zn", "Cu"]);
    expect(s.truth.probe.modes).toBe(2);
    expect(s.header.npos).toBe(20);
    expect(s.header.xrf.raster).toBeUndefined();
    expect(s.truth.object.height).toBe(72);
    expect(s.frames.frames(19, 1).length).toBe(32 * 32);
    const r = resolveConfig({ preset: "bench", scan: { overlap: 0.6 } });
    expect(r.scan).toEqual({ pattern: "raster", jitter_px: undefined, overlap: 0.6, grid: undefined, npos: undefined });
    expect(resolveConfig({ preset: "paper", noise: { level: 0.1 } }).noise).toEqual({ kind: "gaussian", level: 0.1 });
  });

  it("rejects invalid options with clear messages", () => {
    expect(() => resolveConfig({ elements: ["Fe", "Xx"] })).toThrow(/unsupported element "Xx"/);
    expect(() => resolveConfig({ probeSize: 48 })).toThrow(/power of two/);
    expect(() => resolveConfig({ objectSize: 16 })).toThrow(/object size/);
    expect(() => resolveConfig({ preset: "huge" as never })).toThrow(/unknown preset/);
    expect(() => resolveConfig({ seed: -1 })).toThrow(/seed/);
  });
});
