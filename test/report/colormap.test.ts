import { describe, expect, it } from "vitest";
import { COLORMAPS, colourAt, lutColour, lutFromControlPoints, resolveColormap } from "../../src/report/colormap.js";

/** Largest per-channel jump between neighbouring entries. */
function maxStep(lut: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < 255; i++) for (let c = 0; c < 3; c++) m = Math.max(m, Math.abs(lut[3 * (i + 1) + c] - lut[3 * i + c]));
  return m;
}

/** CIE L* (0..100) of an sRGB colour. */
function lightness(c: number[]): number {
  const lin = (v: number) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const y = 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  return y > 216 / 24389 ? 116 * Math.cbrt(y) - 16 : (24389 / 27) * y;
}

describe("colour maps", () => {
  it("viridis matches matplotlib's published table at its ends and middle", () => {
    const v = COLORMAPS.viridis;
    expect(v.length).toBe(768);
    expect(lutColour(v, 0)).toEqual([68, 1, 84]); // (0.267004, 0.004874, 0.329415)
    expect(lutColour(v, 128)).toEqual([33, 145, 140]); // (0.127568, 0.566949, 0.550556)
    expect(lutColour(v, 255)).toEqual([253, 231, 37]); // (0.993248, 0.906157, 0.143936)
    expect(maxStep(v)).toBeLessThanOrEqual(3);
    // sequential: lightness increases
    for (let i = 16; i < 256; i += 16) expect(lightness(lutColour(v, i))).toBeGreaterThan(lightness(lutColour(v, i - 16)));
  });

  it("twilight is cyclic: light, equal ends and a dark middle", () => {
    const t = COLORMAPS.twilight;
    const a = lutColour(t, 0), b = lutColour(t, 255), mid = lutColour(t, 128);
    for (let c = 0; c < 3; c++) expect(Math.abs(a[c] - b[c])).toBeLessThanOrEqual(1);
    expect(lightness(a)).toBeGreaterThan(80);
    expect(lightness(mid)).toBeLessThan(15);
    expect(maxStep(t)).toBeLessThanOrEqual(8);
    // the two halves are mirror images in lightness (within a few levels)
    for (let i = 8; i < 128; i += 8) expect(Math.abs(lightness(lutColour(t, i)) - lightness(lutColour(t, 255 - i)))).toBeLessThan(3);
  });

  it("grey is the identity ramp", () => {
    for (const i of [0, 1, 100, 255]) expect(lutColour(COLORMAPS.grey, i)).toEqual([i, i, i]);
  });

  it("builds LUTs from control points and resolves names", () => {
    const lut = lutFromControlPoints([[0, 0, 0, 0], [1, 1, 0.5, 0]]);
    expect(lutColour(lut, 0)).toEqual([0, 0, 0]);
    expect(lutColour(lut, 255)).toEqual([255, 128, 0]);
    expect(lutColour(lut, 51)).toEqual([51, 26, 0]);
    expect(colourAt("viridis", 1)).toEqual([253, 231, 37]);
    expect(colourAt("viridis", -3)).toEqual([68, 1, 84]);
    expect(resolveColormap(lut)).toBe(lut);
    expect(() => resolveColormap("jet" as never)).toThrow(/unknown colormap "jet"/);
    expect(() => resolveColormap(new Uint8Array(10))).toThrow(/768/);
  });
});
