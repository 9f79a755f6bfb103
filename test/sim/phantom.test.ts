import { describe, expect, it } from "vitest";
import { makePhantom } from "../../src/sim/phantom.js";
import { Rng } from "../../src/sim/rng.js";

const H = 96, W = 80, D = 12;
const make = (seed: number) => makePhantom({ height: H, width: W, elements: ["Fe", "Zn", "Cu"], beamDiameter_px: D }, new Rng(seed));

/** Areas of the 4-connected components of pixels above `level`. */
function componentAreas(map: Float32Array, level: number): number[] {
  const seen = new Uint8Array(map.length), areas: number[] = [];
  for (let s = 0; s < map.length; s++) {
    if (seen[s] || map[s] <= level) continue;
    let area = 0;
    const stack = [s];
    seen[s] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      area++;
      const y = Math.floor(p / W), x = p % W;
      for (const [yy, xx] of [[y - 1, x], [y + 1, x], [y, x - 1], [y, x + 1]]) {
        const q = yy * W + xx;
        if (yy >= 0 && yy < H && xx >= 0 && xx < W && !seen[q] && map[q] > level) { seen[q] = 1; stack.push(q); }
      }
    }
    areas.push(area);
  }
  return areas;
}

function correlation(a: Float32Array, b: Float32Array): number {
  const n = a.length, ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) { ab += (a[i] - ma) * (b[i] - mb); aa += (a[i] - ma) ** 2; bb += (b[i] - mb) ** 2; }
  return ab / Math.sqrt(aa * bb);
}

describe("phantom", () => {
  const p = make(4);
  const maps = { ...p.elements, matrix: p.matrix };

  it("is deterministic for a seed and changes with the seed", () => {
    expect(make(4)).toEqual(p);
    expect(make(5).elements.Fe).not.toEqual(p.elements.Fe);
  });

  it("has non-negative maps in [0, 1] with substantial, different support per element", () => {
    for (const m of Object.values(maps)) {
      expect(Math.min(...m)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...m)).toBeLessThanOrEqual(1);
      expect(Math.max(...m)).toBeGreaterThan(0.5);
      expect(m.filter((v) => v > 0.05).length / m.length).toBeGreaterThan(0.02);
    }
    expect(Math.abs(correlation(p.elements.Fe, p.elements.Zn))).toBeLessThan(0.5);
    expect(Math.abs(correlation(p.elements.Zn, p.elements.Cu))).toBeLessThan(0.5);
    // first features of consecutive elements overlap partly
    const both = p.elements.Fe.filter((v, i) => v > 0.05 && p.elements.Zn[i] > 0.05).length;
    expect(both).toBeGreaterThan(0);
  });

  it("is piecewise smooth with sharp edges, not noise", () => {
    for (const m of Object.values(maps)) {
      let jumps = 0, steps = 0, maxJump = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x + 1 < W; x++) {
          const d = Math.abs(m[y * W + x + 1] - m[y * W + x]);
          maxJump = Math.max(maxJump, d);
          steps++;
          if (d > 0.05) jumps++;
        }
      }
      expect(maxJump).toBeGreaterThan(0.3);
      expect(jumps / steps).toBeLessThan(0.1);
    }
  });

  it("has features smaller than the beam as well as larger ones", () => {
    for (const el of ["Fe", "Zn", "Cu"]) {
      const areas = componentAreas(p.elements[el], 0.05);
      const beamArea = (Math.PI * D * D) / 4;
      expect(Math.min(...areas)).toBeLessThan(0.5 * beamArea);
      expect(Math.max(...areas)).toBeGreaterThan(beamArea);
    }
  });
});
