import { describe, expect, it } from "vitest";
import { positionsToPixels } from "../../src/physics/geometry.js";
import { Rng } from "../../src/sim/rng.js";
import { scanPattern, type ScanSpec } from "../../src/sim/scanPattern.js";

const area = { height: 150, width: 120, n: 32, beamDiameter_px: 12 };
const layout = (spec: ScanSpec, a = area) => scanPattern(spec, a, new Rng(1));

/** Every continuous window corner lies in [0, H - N] x [0, W - N] (via the geometry convention). */
function allInside(pos: Float64Array, a = area): boolean {
  const dx = 5e-8;
  const w = positionsToPixels(pos.map((p) => p * dx), dx, a, a.n);
  return Array.from(w.corner).every((c, i) => c >= -1e-9 && c <= (i % 2 === 0 ? a.height : a.width) - a.n + 1e-9);
}

describe("raster scans", () => {
  it("step = D (1 - overlap), the largest centred grid that fits", () => {
    for (const overlap of [0.3, 0.5, 0.7]) {
      const l = layout({ pattern: "raster", overlap });
      const step = 12 * (1 - overlap);
      expect(l.step_px).toEqual([step, step]);
      expect(l.overlap).toBeCloseTo(overlap, 12);
      const [ny, nx] = l.raster!;
      expect(ny).toBe(Math.floor(118 / step) + 1);
      expect(nx).toBe(Math.floor(88 / step) + 1);
      expect(l.npos).toBe(ny * nx);
      expect(allInside(l.positions_px)).toBe(true);
      expect(l.positions_px[2] - l.positions_px[0]).toBeCloseTo(0, 12); // y slow, x fast
      expect(l.positions_px[3] - l.positions_px[1]).toBeCloseTo(step, 12);
      expect(l.positions_px[0] + l.positions_px[2 * l.npos - 2]).toBeCloseTo(0, 9); // centred
    }
    expect(layout({ pattern: "raster", overlap: 0.7 }).npos).toBeGreaterThan(layout({ pattern: "raster", overlap: 0.3 }).npos);
  });

  it("spreads a given grid over the object and reports the effective overlap", () => {
    const l = layout({ pattern: "raster", grid: [5, 4] });
    expect(l.step_px[0]).toBeCloseTo(118 / 4, 12);
    expect(l.step_px[1]).toBeCloseTo(88 / 3, 12);
    expect(l.overlap).toBeCloseTo(1 - 118 / 4 / 12, 12);
    expect(allInside(l.positions_px)).toBe(true);
    expect(() => layout({ pattern: "raster", grid: [30, 4], overlap: 0.5 })).toThrow(/does not fit .* at most 20x15/);
    expect(layout({ pattern: "raster", grid: [3, 3], overlap: 0.5 }).step_px).toEqual([6, 6]);
  });

  it("jitters positions by at most the jitter and keeps windows inside", () => {
    const plain = layout({ pattern: "raster", grid: [6, 6] });
    const j = layout({ pattern: "raster", grid: [6, 6], jitter_px: 1.5 });
    const jittered = layout({ pattern: "raster", grid: [6, 6], jitter_px: 1.5 }, area);
    expect(allInside(j.positions_px)).toBe(true);
    expect(jittered.positions_px).toEqual(j.positions_px);
    // jitter shrinks the span by the jitter on each side, then perturbs by at most the jitter
    const span = (l: typeof j) => l.step_px[0] * 5;
    expect(span(j)).toBeCloseTo(span(plain) - 3, 9);
    let moved = 0;
    for (let i = 0; i < j.npos; i++) {
      const iy = Math.floor(i / 6), ix = i % 6;
      const dy = j.positions_px[2 * i] - (iy - 2.5) * j.step_px[0], dx = j.positions_px[2 * i + 1] - (ix - 2.5) * j.step_px[1];
      expect(Math.abs(dy)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(dx)).toBeLessThanOrEqual(1.5);
      if (Math.abs(dy) > 0.1) moved++;
    }
    expect(moved).toBeGreaterThan(10);
  });
});

describe("Fermat spiral scans", () => {
  it("covers the object at the density of a raster with the same step, inside the object", () => {
    const l = layout({ pattern: "fermat", overlap: 0.5 });
    expect(l.raster).toBeUndefined();
    expect(allInside(l.positions_px)).toBe(true);
    const perPoint = (118 * 88) / l.npos;
    expect(perPoint / 36).toBeGreaterThan(0.9);
    expect(perPoint / 36).toBeLessThan(1.15);
    let nn = 0;
    for (let i = 0; i < l.npos; i++) {
      let best = Infinity;
      for (let k = 0; k < l.npos; k++) {
        if (k !== i) best = Math.min(best, Math.hypot(l.positions_px[2 * i] - l.positions_px[2 * k], l.positions_px[2 * i + 1] - l.positions_px[2 * k + 1]));
      }
      nn += best / l.npos;
    }
    expect(nn / 6).toBeGreaterThan(0.7);
    expect(nn / 6).toBeLessThan(1.3);
  });

  it("caps the count at npos and says when npos does not fit", () => {
    const l = layout({ pattern: "fermat", overlap: 0.5, npos: 50 });
    expect(l.npos).toBe(50);
    expect(Math.hypot(l.positions_px[0], l.positions_px[1])).toBe(0);
    expect(() => layout({ pattern: "fermat", overlap: 0.5, npos: 5000 })).toThrow(/only \d+ Fermat-spiral positions/);
  });

  it("rejects bad specs", () => {
    expect(() => layout({ pattern: "raster", overlap: 1 })).toThrow(/overlap/);
    expect(() => layout({ pattern: "zigzag" as never })).toThrow(/unknown scan pattern/);
    expect(() => layout({ pattern: "raster" }, { ...area, height: 16 })).toThrow(/smaller than/);
  });
});
