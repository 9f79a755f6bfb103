import { describe, expect, it } from "vitest";
import { applyLink, linkVjp } from "../../src/physics/link.js";
import type { LinkSpec } from "../../src/scan/model.js";
import { dot, randomArray, seeded } from "./helpers.js";

const np = 30;
const k = (2 * Math.PI) / 1.2398419843320026e-10;
const linear: LinkSpec = { type: "linear", weights: { Fe: 1.5 } };
const exponential: LinkSpec = {
  type: "exponential", k,
  coefficients: { Fe: { beta: 1.7e-15, delta: 1.9e-14 }, Zn: { beta: 2.3e-15, delta: 1.7e-14 } },
  matrix: { beta: 3.4e-17, delta: 2.2e-14 },
};

describe("links", () => {
  it("linear: O = sum a_e c_e + i y (a_e defaults to 1)", () => {
    const o = applyLink(linear, { Fe: [2, 0], Zn: [1, 3] }, [0.5, -1]);
    expect(Array.from(o)).toEqual([4, 0.5, 3, -1]);
  });

  it("exponential: O = exp(-k sum (beta + i delta) c - k (beta_m + i delta_m) m)", () => {
    const o = applyLink(exponential, { Fe: [300], Zn: [100] }, [600], new Float64Array(2));
    const re = -k * (1.7e-15 * 300 + 2.3e-15 * 100 + 3.4e-17 * 600);
    const im = -k * (1.9e-14 * 300 + 1.7e-14 * 100 + 2.2e-14 * 600);
    expect(o[0]).toBeCloseTo(Math.exp(re) * Math.cos(im), 12);
    expect(o[1]).toBeCloseTo(Math.exp(re) * Math.sin(im), 12);
    expect(Math.abs(im)).toBeGreaterThan(0.5);
    expect(() => applyLink(exponential, { Cu: [1] }, [0])).toThrow(/no beta\/delta for element Cu/);
  });

  for (const [name, spec, scale] of [["linear", linear, 1], ["exponential", exponential, 400]] as const) {
    it(`${name}: the vector-Jacobian product matches finite differences`, () => {
      const rand = seeded(name.length);
      const maps = { Fe: randomArray(rand, np, 0, scale), Zn: randomArray(rand, np, 0, scale) };
      const free = randomArray(rand, np, 0, 2 * scale);
      const target = randomArray(rand, 2 * np), weight = randomArray(rand, np, 0.5, 2);
      // L = sum w |O - T|^2, so dL/dO* = w (O - T)
      const loss = (m: Record<string, Float64Array>, f: Float64Array) => {
        const o = applyLink(spec, m, f, new Float64Array(2 * np));
        let s = 0;
        for (let p = 0; p < np; p++) s += weight[p] * ((o[2 * p] - target[2 * p]) ** 2 + (o[2 * p + 1] - target[2 * p + 1]) ** 2);
        return s;
      };
      const o = applyLink(spec, maps, free, new Float64Array(2 * np));
      const g = o.map((v, i) => weight[i >> 1] * (v - target[i]));
      const gMaps = { Fe: new Float64Array(np), Zn: new Float64Array(np) }, gFree = new Float64Array(np);
      linkVjp(spec, maps, free, o, g, gMaps, gFree);
      const h = { Fe: randomArray(rand, np), Zn: randomArray(rand, np), free: randomArray(rand, np) };
      const eps = 1e-6 * scale;
      const at = (s: number) => loss(
        { Fe: maps.Fe.map((v, i) => v + s * h.Fe[i]), Zn: maps.Zn.map((v, i) => v + s * h.Zn[i]) },
        free.map((v, i) => v + s * h.free[i]),
      );
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      const analytic = dot(gMaps.Fe, h.Fe) + dot(gMaps.Zn, h.Zn) + dot(gFree, h.free);
      expect(Math.abs(fd - analytic) / Math.abs(analytic)).toBeLessThan(1e-6);
      // each block on its own, so that a wrong free-map gradient cannot hide behind the maps
      const fdFree = (loss(maps, free.map((v, i) => v + eps * h.free[i])) - loss(maps, free.map((v, i) => v - eps * h.free[i]))) / (2 * eps);
      expect(Math.abs(fdFree - dot(gFree, h.free)) / Math.abs(fdFree)).toBeLessThan(1e-6);
    });
  }
});
