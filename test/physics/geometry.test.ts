import { describe, expect, it } from "vitest";
import {
  objectShapeFor, pixelSize_m, positionsToPixels, subpixelShiftProbe, wavelength_m,
} from "../../src/physics/geometry.js";
import { dot, maxAbsDiff, randomArray, seeded } from "./helpers.js";

describe("geometry", () => {
  it("computes wavelength and object pixel size", () => {
    expect(wavelength_m(10)).toBeCloseTo(1.2398419843320026e-10, 22);
    expect(pixelSize_m(10, 2, 64, 75e-6)).toBeCloseTo((1.2398419843320026e-10 * 2) / (64 * 75e-6), 20);
    expect(() => wavelength_m(0)).toThrow(/energy/);
  });

  it("maps position 0 to a window centred on the object, rounding corners to the nearest pixel", () => {
    const dx = 50e-9, n = 16, obj = { height: 64, width: 48 };
    const pos = [0, 0, 1.3 * dx, -2.7 * dx, 0.5 * dx, -0.5 * dx];
    const w = positionsToPixels(pos, dx, obj, n);
    expect([w.iy[0], w.ix[0], w.fy[0], w.fx[0]]).toEqual([24, 16, 0, 0]);
    expect(w.iy[1]).toBe(25);
    expect(w.fy[1]).toBeCloseTo(0.3, 12);
    expect(w.ix[1]).toBe(13);
    expect(w.fx[1]).toBeCloseTo(0.3, 12);
    expect(w.corner[2]).toBeCloseTo(25.3, 12);
    expect(Math.abs(w.fy[2])).toBeCloseTo(0.5, 12);
    expect(w.iy[2] + w.fy[2]).toBeCloseTo(24.5, 12);
    const off = positionsToPixels(pos, dx, obj, n, { subpixel: false });
    expect(Array.from(off.fy)).toEqual([0, 0, 0]);
    expect(Array.from(off.iy)).toEqual(Array.from(w.iy));
  });

  it("rejects windows outside the object, naming the position", () => {
    const dx = 1e-8;
    expect(() => positionsToPixels([0, 0, 0, 25 * dx], dx, { height: 64, width: 64 }, 16)).toThrow(/window 1 .*inside the 64x64/);
    expect(() => positionsToPixels([0, 0, 0], dx, { height: 64, width: 64 }, 16)).toThrow(/pairs/);
  });

  it("objectShapeFor returns the smallest symmetric grid holding every continuous window corner", () => {
    const dx = 1e-8, n = 16;
    const pos = [-10.4 * dx, 3 * dx, 7.2 * dx, -20.6 * dx];
    const shape = objectShapeFor(pos, dx, n);
    expect(shape).toEqual({ height: 16 + 2 * 11, width: 16 + 2 * 21 });
    expect(Array.from(positionsToPixels(pos, dx, shape, n).corner).map((c) => +c.toFixed(9))).toEqual([0.6, 24, 18.2, 0.4]);
    const corners = (h: number, w: number) => pos.map((p, i) => p / dx + ((i % 2 === 0 ? h : w) - n) / 2);
    const inside = (c: number[], h: number, w: number) =>
      c.every((v, i) => v >= 0 && v <= (i % 2 === 0 ? h : w) - n);
    expect(inside(corners(shape.height, shape.width), shape.height, shape.width)).toBe(true);
    expect(inside(corners(shape.height - 2, shape.width), shape.height - 2, shape.width)).toBe(false);
    expect(inside(corners(shape.height, shape.width - 2), shape.height, shape.width - 2)).toBe(false);
    expect(objectShapeFor(pos, dx, n, 3).height).toBe(shape.height + 6);
  });
});

describe("subpixelShiftProbe", () => {
  const n = 16;

  it("shifts by whole pixels exactly as a circular roll towards larger indices", () => {
    const x = randomArray(seeded(1), 2 * n * n * 2);
    const out = new Float64Array(x.length);
    subpixelShiftProbe(x, n, 1, -2, out);
    for (let m = 0; m < 2; m++) {
      for (let y = 0; y < n; y++) {
        for (let xx = 0; xx < n; xx++) {
          const src = m * 2 * n * n + 2 * (n * ((y - 1 + n) % n) + ((xx + 2) % n));
          const dst = m * 2 * n * n + 2 * (n * y + xx);
          expect(out[dst]).toBeCloseTo(x[src], 12);
          expect(out[dst + 1]).toBeCloseTo(x[src + 1], 12);
        }
      }
    }
  });

  it("moves a smooth spot's centroid by the fractional shift and composes", () => {
    const spot = new Float64Array(2 * n * n);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) spot[2 * (n * y + x)] = Math.exp(-((y - 8) ** 2 + (x - 8) ** 2) / 4);
    const s = new Float64Array(spot.length);
    subpixelShiftProbe(spot, n, 0.3, -0.4, s);
    let w = 0, cy = 0, cx = 0;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const i = s[2 * (n * y + x)] ** 2 + s[2 * (n * y + x) + 1] ** 2;
        w += i; cy += i * y; cx += i * x;
      }
    }
    expect(cy / w).toBeCloseTo(8.3, 3);
    expect(cx / w).toBeCloseTo(7.6, 3);
    const twice = new Float64Array(spot.length), once = new Float64Array(spot.length);
    subpixelShiftProbe(spot, n, 0.5, 0.25, twice);
    subpixelShiftProbe(twice, n, 0.5, 0.25, twice);
    subpixelShiftProbe(spot, n, 1, 0.5, once);
    expect(maxAbsDiff(twice, once)).toBeLessThan(1e-12);
  });

  it("is unitary with adjoint T_{-f}: <T_f x, y> = <x, T_{-f} y>", () => {
    const rand = seeded(2);
    const x = randomArray(rand, 2 * n * n), y = randomArray(rand, 2 * n * n);
    const tx = new Float64Array(x.length), ty = new Float64Array(y.length);
    subpixelShiftProbe(x, n, 0.37, -0.21, tx);
    subpixelShiftProbe(y, n, -0.37, 0.21, ty);
    expect(dot(tx, y)).toBeCloseTo(dot(x, ty), 12);
    expect(dot(tx, tx)).toBeCloseTo(dot(x, x), 10);
    expect(maxAbsDiff(tx, x)).toBeGreaterThan(0.1);
  });

  it("rejects a probe that is not K x N x N", () => {
    expect(() => subpixelShiftProbe(new Float32Array(100), 8, 0.1, 0, new Float32Array(100))).toThrow(/not K x 8 x 8/);
  });
});
