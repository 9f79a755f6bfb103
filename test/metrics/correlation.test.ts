import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { connectedComponents, correlate, labelsFromPng, otsuThreshold, segmentPhase } from "../../src/metrics/correlation.js";

/**
 * A 40 x 40 object: background phase 0 with Fe = 1, Zn = 2; a 10 x 10 cell A at (5..14, 5..14) whose phase
 * rises along x (0.5 + 0.01 x) with Fe = 10 + 2 x (perfectly correlated with the phase) and Zn = 6 - x/10
 * (perfectly anti-correlated); an 8 x 6 cell B at (25..32, 20..25) with phase 0.8 + 0.01 (y % 2), Fe = 3, and
 * Zn alternating with the phase (r = +1); one 2 x 2 speck at (35, 35) with phase 0.6 (below the minimum size).
 */
function synthetic() {
  const W = 40, H = 40, N = W * H;
  const phase = new Float64Array(N), fe = new Float64Array(N).fill(1), zn = new Float64Array(N).fill(2);
  const inA = (y: number, x: number) => y >= 5 && y < 15 && x >= 5 && x < 15;
  const inB = (y: number, x: number) => y >= 25 && y < 33 && x >= 20 && x < 26;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (inA(y, x)) { phase[i] = 0.5 + 0.01 * x; fe[i] = 10 + 2 * x; zn[i] = 6 - x / 10; }
      else if (inB(y, x)) { phase[i] = 0.8 + 0.01 * (y % 2); fe[i] = 3; zn[i] = 4 + (y % 2); }
      else if (y >= 35 && y < 37 && x >= 35 && x < 37) phase[i] = 0.6;
    }
  }
  return { W, H, phase, fe, zn };
}

describe("otsuThreshold and connectedComponents", () => {
  it("splits two well separated populations between them, NaN for a constant image", () => {
    const v = [0, 0.1, 0.05, 0.02, 1, 1.1, 0.95, 1.02];
    const t = otsuThreshold(v);
    expect(t).toBeGreaterThan(0.1);
    expect(t).toBeLessThanOrEqual(0.95);
    expect(otsuThreshold([3, 3, 3])).toBeNaN();
    // masked-out values do not count
    expect(otsuThreshold([0, 1, 100], [1, 1, 0])).toBeLessThanOrEqual(1);
  });

  it("labels 8-connected components with their sizes", () => {
    // diagonal neighbours join; the lone pixel at the right is its own component
    const set = [
      1, 0, 0, 0, 1,
      0, 1, 0, 0, 0,
      0, 0, 1, 0, 0,
    ];
    const { labels, sizes } = connectedComponents(set, 5, 3);
    expect(sizes).toEqual([0, 3, 1]);
    expect([labels[0], labels[6], labels[12], labels[4]]).toEqual([1, 1, 1, 2]);
    expect(labels[1]).toBe(0);
  });
});

describe("correlate", () => {
  it("finds the two cells from the phase, drops the speck, and measures their statistics", () => {
    const s = synthetic();
    const px = 50e-9;
    const { correlation: c, labels } = correlate({ phase: s.phase, width: s.W, height: s.H, elements: { Fe: s.fe, Zn: s.zn }, pixelSize_m: px, minRegionPixels: 10 });
    expect(c.source).toBe("otsu");
    expect(c.background_high).toBe(false);
    expect(c.threshold).toBeGreaterThan(0);
    expect(c.threshold).toBeLessThanOrEqual(0.55);
    expect(c.regions.map((r) => [r.label, r.name, r.pixels])).toEqual([[0, "background", 1600 - 100 - 48 - 4], [1, "region 1", 100], [2, "region 2", 48]]);
    expect(c.unassigned_pixels).toBe(4);
    expect(labels[36 * 40 + 36]).toBe(-1);
    expect(labels[10 * 40 + 10]).toBe(1);
    expect(labels[28 * 40 + 22]).toBe(2);

    const [bg, a, b] = c.regions;
    expect(a.area_um2).toBeCloseTo(100 * 0.05 ** 2, 12);
    expect(a.centroid_px[0]).toBeCloseTo(9.5, 12);
    expect(a.centroid_px[1]).toBeCloseTo(9.5, 12);
    expect(a.phase.mean).toBeCloseTo(0.5 + 0.01 * 9.5, 12);
    expect(a.phase.std).toBeCloseTo(0.01 * Math.sqrt((10 * 10 - 1) / 12), 12); // std of 0..9, scaled
    expect(a.elements.Fe.mean).toBeCloseTo(10 + 2 * 9.5, 10);
    expect(a.elements.Fe.pearson).toBeCloseTo(1, 12);
    expect(a.elements.Zn.pearson).toBeCloseTo(-1, 12);
    expect(a.ratios["Fe/Zn"]).toBeCloseTo(29 / (6 - 0.95), 10);
    expect(b.elements.Zn.pearson).toBeCloseTo(1, 12);
    expect(b.elements.Fe.pearson).toBeNaN(); // constant Fe: undefined
    expect(b.elements.Fe.std).toBe(0);
    expect(bg.phase).toEqual({ mean: 0, std: 0 });
    expect(bg.ratios["Fe/Zn"]).toBeCloseTo(0.5, 12);
    expect(c.overall.pixels).toBe(1600);
    // overall: phase and Fe rise together across background and cells
    expect(c.overall.elements.Fe.pearson).toBeGreaterThan(0.5);
    expect(JSON.parse(JSON.stringify(c)).regions[2].elements.Fe.pearson).toBeNull();
  });

  it("analyses only pixels inside the mask, and a user label image replaces the segmentation", () => {
    const s = synthetic();
    const mask = new Uint8Array(1600).fill(1);
    for (let i = 0; i < 1600; i++) if (Math.floor(i / 40) >= 20) mask[i] = 0; // top half only: cell B is outside
    const seg = correlate({ phase: s.phase, width: 40, height: 40, elements: { Fe: s.fe }, pixelSize_m: 1e-7, mask, minRegionPixels: 10 });
    expect(seg.correlation.regions.map((r) => r.pixels)).toEqual([800 - 100, 100]);

    // the user's labels: left half 0 (background), right half 7; a negative label is no region
    const user = new Int32Array(1600).map((_, i) => (i % 40 < 20 ? 0 : 7));
    user[0] = -1;
    const { correlation: c, labels } = correlate({ phase: s.phase, width: 40, height: 40, elements: { Fe: s.fe }, pixelSize_m: 1e-7, mask, labels: { data: user, source: "cells.png" } });
    expect(c.source).toBe("mask");
    expect(c.mask).toBe("cells.png");
    expect(c.threshold).toBeUndefined();
    expect(c.regions.map((r) => [r.label, r.name, r.pixels])).toEqual([[0, "background", 399], [7, "label 7", 400]]);
    expect(c.unassigned_pixels).toBe(1);
    expect(labels[25 * 40 + 30]).toBe(-1); // outside the mask
  });

  it("a constant phase gives no regions and says so; sizes must match", () => {
    const flat = new Float64Array(100);
    const { correlation: c } = correlate({ phase: flat, width: 10, height: 10, elements: {}, pixelSize_m: 1e-8 });
    expect(c.regions.map((r) => r.label)).toEqual([0]);
    expect(c.warnings.join()).toMatch(/constant/);
    expect(() => correlate({ phase: flat, width: 10, height: 10, elements: { Fe: new Float64Array(99) }, pixelSize_m: 1e-8 })).toThrow(/Fe has 99 values/);
  });

  it("segmentPhase picks the class on the scan's border as background, even when it is the high-phase one", () => {
    // exponential link: material lowers the phase; a low-phase disc in a high-phase surround
    const W = 30, phase = new Float64Array(W * W).fill(1);
    for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) if ((y - 15) ** 2 + (x - 15) ** 2 < 64) phase[y * W + x] = 0.2;
    const { labels, backgroundHigh } = segmentPhase(phase, W, W, { minRegionPixels: 5 });
    expect(backgroundHigh).toBe(true);
    expect(labels[15 * W + 15]).toBe(1);
    expect(labels[0]).toBe(0);
  });
});

describe("correlate: regions the data support", () => {
  /**
   * 40 x 40: a background of +-0.3 in a checkerboard (std 0.3), a 20 x 20 cell at phase 1.2, an 8 x 8 blob at
   * 0.8 (64 pixels, contrast 0.8: 2.7 background standard deviations) and a 5 x 5 speck at 1.2 (25 pixels).
   * Otsu puts the threshold between the background and the blob: all three are candidate regions.
   */
  function scene() {
    const W = 40, phase = new Float64Array(W * W), fe = new Float64Array(W * W).fill(1), zn = new Float64Array(W * W).fill(1);
    for (let y = 0; y < W; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        phase[i] = (x + y) % 2 ? 0.3 : -0.3;
        if (y >= 4 && y < 24 && x >= 4 && x < 24) { phase[i] = 1.2; fe[i] = 30; }
        else if (y >= 28 && y < 36 && x >= 6 && x < 14) { phase[i] = 0.8; fe[i] = 31; zn[i] = 0.18; }
        else if (y >= 30 && y < 35 && x >= 28 && x < 33) { phase[i] = 1.2; fe[i] = 172.9; zn[i] = 1; }
      }
    }
    return { W, phase, fe, zn };
  }

  it("drops components smaller than the beam's area and those whose contrast is within the noise, and counts them", () => {
    const s = scene();
    const base = { phase: s.phase, width: s.W, height: s.W, elements: { Fe: s.fe, Zn: s.zn }, pixelSize_m: 50e-9, minRegionPixels: 16 };
    // without a beam area every component of 16 pixels or more is a region: cell, blob and speck
    const all = correlate(base).correlation;
    expect(all.regions.map((r) => r.pixels)).toEqual([1600 - 400 - 64 - 25, 400, 64, 25]);
    expect(all.beam_area_px).toBeNull();
    expect(all.dropped).toEqual({ too_small: 0, unsupported: 0, pixels: 0 });

    // a beam of 60 pixels: the 25-pixel speck is smaller than the beam; the blob's contrast 0.8 is below
    // 3 x 0.3 x sqrt(60 / 64) = 0.87; the cell's 1.2 is far above 3 x 0.3 x sqrt(60 / 400) = 0.35
    const { correlation: c, labels } = correlate({ ...base, beamAreaPixels: 60 });
    expect(c.beam_area_px).toBe(60);
    expect(c.region_min_pixels).toBe(60);
    expect(c.regions.map((r) => [r.name, r.pixels])).toEqual([["background", 1111], ["region 1", 400]]);
    expect(c.dropped).toEqual({ too_small: 1, unsupported: 1, pixels: 89 });
    expect(c.unassigned_pixels).toBe(89);
    expect(labels[32 * 40 + 10]).toBe(-1); // the blob
    expect(labels[32 * 40 + 30]).toBe(-1); // the speck: its Fe/Zn of 172.9 is no region's ratio
    expect(Object.values(c.regions[1].ratios)[0]).toBeCloseTo(30, 12);
    expect(c.overall.pixels).toBe(1600);
    // a larger configured minimum wins over a smaller beam
    expect(correlate({ ...base, beamAreaPixels: 10, minRegionPixels: 30 }).correlation.region_min_pixels).toBe(30);
    expect(() => correlate({ ...base, beamAreaPixels: -1 })).toThrow(/beamAreaPixels must be a positive number, got -1/);
  });

  it("keeps a user's label image as given, warning about regions smaller than the beam", () => {
    const s = scene();
    const user = new Int32Array(1600);
    for (let i = 0; i < 1600; i++) if (s.phase[i] === 0.8) user[i] = 2; // the 64-pixel blob
    user[0] = 3; // a one-pixel label
    const { correlation: c } = correlate({ phase: s.phase, width: 40, height: 40, elements: { Fe: s.fe }, pixelSize_m: 50e-9, labels: { data: user, source: "cells.png" }, beamAreaPixels: 60 });
    expect(c.regions.map((r) => [r.label, r.pixels])).toEqual([[0, 1535], [2, 64], [3, 1]]);
    expect(c.warnings).toEqual(["label 3 has 1 analysed pixels, fewer than the beam's area (60 pixels): its element statistics mostly measure its surroundings"]);
    expect(c.dropped).toBeUndefined();
  });
});

describe("labelsFromPng", () => {
  it("reads grey values as labels and transparent pixels as none", () => {
    const png = new PNG({ width: 3, height: 1 });
    [[0, 255], [5, 255], [9, 0]].forEach(([v, a], i) => { png.data.set([v, v, v, a], 4 * i); });
    const r = labelsFromPng(PNG.sync.write(png));
    expect([r.width, r.height]).toEqual([3, 1]);
    expect([...r.data]).toEqual([0, 5, -1]);
  });
});
