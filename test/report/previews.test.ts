import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { illuminatedMask, illuminationMap } from "../../src/metrics/illumination.js";
import { positionsToPixels } from "../../src/physics/geometry.js";
import { lutColour, COLORMAPS } from "../../src/report/colormap.js";
import { FIGURE_MAP_SIZE, FIGURE_TEXT_SCALE } from "../../src/report/figure.js";
import { rasterText } from "../../src/report/font.js";
import { HATCH, hatchAt } from "../../src/report/png.js";
import { phaseDisplay, planPreviews, fileSafeSymbol, writePreviews } from "../../src/report/previews.js";
import { niceTicks } from "../../src/report/ticks.js";
import { OBJECT_UNITS } from "../../src/scan/units.js";
import { simulate } from "../../src/sim/simulate.js";

const dir = mkdtempSync(join(tmpdir(), "ptyxrf-previews-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Phase, amplitude and element maps of a simulated phantom, and its illuminated region. */
function phantomPreviewInput(preset: "small" | "paper" = "small") {
  const { truth, header } = simulate({ preset });
  const { height, width, data } = truth.object;
  const phase = new Float32Array(height * width), amplitude = new Float32Array(height * width);
  for (let p = 0; p < height * width; p++) {
    phase[p] = Math.atan2(data[2 * p + 1], data[2 * p]);
    amplitude[p] = Math.hypot(data[2 * p], data[2 * p + 1]);
  }
  const windows = positionsToPixels(truth.positions_m, truth.pixelSize_m, { height, width }, header.frameSize);
  const mask = illuminatedMask(illuminationMap(truth.probe, windows));
  return { phase, amplitude, width, height, elements: truth.elementMaps, mask, pixelSize_m: truth.pixelSize_m };
}

function at(png: PNG, x: number, y: number): number[] {
  const o = 4 * (y * png.width + x);
  return [png.data[o], png.data[o + 1], png.data[o + 2]];
}

/** The bounding box of the set pixels of a mask, computed plainly. */
function bbox(mask: ArrayLike<number>, w: number, h: number) {
  const xs: number[] = [], ys: number[] = [];
  for (let i = 0; i < w * h; i++) if (mask[i]) { xs.push(i % w); ys.push(Math.floor(i / w)); }
  return { x: Math.min(...xs), y: Math.min(...ys), width: Math.max(...xs) - Math.min(...xs) + 1, height: Math.max(...ys) - Math.min(...ys) + 1 };
}

const INK = [29, 35, 48];

describe("writePreviews", () => {
  it("writes phase, amplitude, element and overlay PNGs of a phantom, with their ranges", () => {
    const input = phantomPreviewInput("small");
    const out = writePreviews(dir, input);
    const names = out.entries.map((e) => e.name);
    expect(names).toEqual(["phase.png", "amplitude.png", "element_Fe.png", "overlay_Fe.png", "element_Zn.png", "overlay_Zn.png"]);
    expect(out.files).toEqual(names.map((n) => join(dir, n)));
    const plans = planPreviews(input);
    const box = bbox(input.mask, input.width, input.height);
    for (const [k, f] of out.files.entries()) {
      expect(existsSync(f)).toBe(true);
      const png = PNG.sync.read(readFileSync(f));
      // a figure: the map cropped to the illuminated region, its longer side at least 512 pixels, with title and bars
      const fig = plans[k].figure();
      expect(plans[k].crop).toEqual(box);
      expect([fig.map.width, fig.map.height]).toEqual([box.width * fig.scale, box.height * fig.scale]);
      expect(Math.max(fig.map.width, fig.map.height)).toBeGreaterThanOrEqual(FIGURE_MAP_SIZE);
      expect([png.width, png.height]).toEqual([fig.width, fig.height]);
      expect(png.width).toBeGreaterThan(fig.map.x + fig.map.width + 60); // colour bar, ticks, label
    }
    expect(out.entries.map((e) => e.label)).toEqual([
      "phase (rad)", "amplitude (dimensionless)", "Fe areal density (µg/cm²)", "Fe areal density (µg/cm²)", "Zn areal density (µg/cm²)", "Zn areal density (µg/cm²)",
    ]);
    for (const [, [lo, hi]] of Object.entries(out.ranges)) expect(hi).toBeGreaterThan(lo);
    // the weak phase object is shown linearly in grey over its own range
    expect(out.entries[0].colormap).toBe("grey");
    expect(out.ranges["phase.png"][1] - out.ranges["phase.png"][0]).toBeLessThan(Math.PI);
  });

  it("shows a wrapping phase on the cyclic map over [-pi, pi)", () => {
    const w = 32, h = 32;
    const phase = Float32Array.from({ length: w * h }, (_, i) => -Math.PI + (2 * Math.PI * (i % w)) / w);
    const out = writePreviews(join(dir, "wrapped"), { phase, amplitude: new Float32Array(w * h).fill(1), width: w, height: h, elements: {} });
    expect(out.entries.map((e) => e.name)).toEqual(["phase.png", "amplitude.png"]);
    expect(out.entries[0].colormap).toBe("twilight");
    expect(out.ranges["phase.png"]).toEqual([-Math.PI, Math.PI]);
  });

  it("sanitises element names", () => {
    expect(fileSafeSymbol("Fe")).toBe("Fe");
    expect(fileSafeSymbol("../x y")).toBe("___x_y");
  });
});

describe("preview figures", () => {
  // a 60 x 40 map, illuminated in a disc of radius 12 about (x 25, y 18): bounding box x 13..37, y 6..30
  const W = 60, H = 40;
  const mask = new Uint8Array(W * H).map((_, i) => ((i % W) - 25) ** 2 + (Math.floor(i / W) - 18) ** 2 <= 144 ? 1 : 0);
  // areal density rising along x from 10 to 70 inside; wild values outside the disc and three outliers inside
  const fe = Float32Array.from({ length: W * H }, (_, i) => (mask[i] ? 10 + (i % W - 13) * 2.5 : (i * 7919) % 13 * 1e4));
  for (const i of [18 * W + 20, 20 * W + 30, 25 * W + 25]) fe[i] = 1e6;
  const input = { width: W, height: H, elements: { Fe: fe }, mask, pixelSize_m: 40e-9 };

  it("crop to the illuminated mask's bounding box and draw nothing outside the mask", () => {
    const [plan] = planPreviews(input);
    expect(plan.crop).toEqual({ x: 13, y: 6, width: 25, height: 25 });
    const fig = plan.figure();
    expect(fig.scale).toBe(Math.ceil(FIGURE_MAP_SIZE / 25)); // 21: 525 px
    const png = PNG.sync.read(fig.png);
    const s = fig.scale;
    // the crop's corner (13, 6) is outside the disc: hatched; its centre (25, 18) is data
    expect(at(png, fig.map.x, fig.map.y)).toEqual(hatchAt(0, 0));
    expect(HATCH).toContainEqual(at(png, fig.map.x + 3, fig.map.y + 1) as never);
    const centre = at(png, fig.map.x + 12 * s + 1, fig.map.y + 12 * s + 1);
    expect(HATCH).not.toContainEqual(centre as never);
    // not cropping shows the whole grid
    expect(planPreviews({ ...input, crop: false })[0].crop).toEqual({ x: 0, y: 0, width: W, height: H });
  });

  it("take the range from the illuminated values, ignoring a few outliers, and tick it with round numbers", () => {
    const [plan] = planPreviews(input);
    const [lo, hi] = plan.range;
    expect(lo).toBeGreaterThanOrEqual(10);
    expect(hi).toBeLessThanOrEqual(70); // three 1e6 outliers and the 1e4 values outside the disc do not stretch it
    expect(hi - lo).toBeGreaterThan(50);
    const { bars } = plan.figure();
    expect(bars[0].ticks.values).toEqual(niceTicks(lo, hi, bars[0].ticks.values.length).values);
    expect(bars[0].ticks.values).toEqual([20, 30, 40, 50, 60]);
    for (const v of bars[0].ticks.values) { expect(v).toBeGreaterThanOrEqual(lo); expect(v).toBeLessThanOrEqual(hi); }
    // the colour bar's top is the high end of viridis, its bottom the low end
    const png = PNG.sync.read(plan.figure().png);
    const strip = bars[0].strip;
    expect(at(png, strip.x + 5, strip.y)).toEqual(lutColour(COLORMAPS.viridis, 255));
    expect(at(png, strip.x + 5, strip.y + strip.height - 1)).toEqual(lutColour(COLORMAPS.viridis, 0));
  });

  it("write the title, the tick labels, the unit label along the bar and a scale bar with its length", () => {
    const [plan] = planPreviews(input);
    expect(plan.title).toBe("Fe areal density");
    expect(plan.label).toBe("Fe areal density (µg/cm²)");
    const fig = plan.figure();
    const png = PNG.sync.read(fig.png);
    /** Whether `text` is drawn in ink at (x, y) with these options: every ink pixel of the font is there. */
    const drawn = (text: string, x: number, y: number, o: Parameters<typeof rasterText>[4]) => {
      let ink = 0, missing = 0;
      rasterText(text, x, y, (px, py) => { ink++; if (at(png, px, py).join() !== INK.join()) missing++; }, o);
      return ink > 50 && missing === 0;
    };
    const bar = fig.bars[0];
    expect(drawn("Fe areal density (µg/cm²)", bar.label.x, bar.label.y, { scale: bar.labelScale, rotate: -90 })).toBe(true);
    expect(drawn("Fe areal density", 16, 16, { scale: FIGURE_TEXT_SCALE, bold: true })).toBe(true);
    // the label area holds ink, and not the ink of another text
    expect(drawn("Fe areal density (µg/cm³)", bar.label.x, bar.label.y, { scale: bar.labelScale, rotate: -90 })).toBe(false);
    let labelInk = 0;
    for (let y = bar.label.y; y < bar.label.y + bar.label.height; y++) for (let x = bar.label.x; x < bar.label.x + bar.label.width; x++) if (at(png, x, y).join() === INK.join()) labelInk++;
    expect(labelInk).toBeGreaterThan(200);
    // tick label "40" next to its tick
    const t = bar.ticks.values.indexOf(40);
    const ty = bar.strip.y + Math.round((1 - (40 - plan.range[0]) / (plan.range[1] - plan.range[0])) * (bar.strip.height - 2));
    expect(drawn("40", bar.strip.x + bar.strip.width + 1 + 5 + 4, ty + 1 - 7, { scale: 2 })).toBe(true);
    expect(bar.ticks.labels[t]).toBe("40");
    // scale bar: 25 px of 40 nm = 1 µm wide, a quarter is 250 nm -> 200 nm = 5 object pixels
    expect(fig.scaleBar).toMatchObject({ label: "200 nm", length_m: 2e-7 });
    expect(fig.scaleBar!.box.width).toBe(5 * fig.scale);
    expect(at(png, fig.scaleBar!.box.x + 3, fig.scaleBar!.box.y + 1)).toEqual([0, 0, 0]);
    // no pixel size, no scale bar
    expect(planPreviews({ ...input, pixelSize_m: undefined })[0].figure().scaleBar).toBeNull();
  });

  it("say what linear-link element maps are in, and give overlays a bar for the phase and one for the element", () => {
    const phase = Float32Array.from({ length: W * H }, (_, i) => 0.1 * (i % W) / W);
    const plans = planPreviews({ ...input, phase, amplitude: new Float32Array(W * H).fill(0.9), elementUnit: OBJECT_UNITS });
    const el = plans.find((p) => p.kind === "element")!, ov = plans.find((p) => p.kind === "overlay")!;
    expect([el.title, el.label]).toEqual(["Fe (linear link)", "Fe (object units, linear link)"]);
    const fig = ov.figure();
    expect(fig.bars).toHaveLength(2);
    expect(ov.phaseLabel).toBe("phase (rad)");
    expect(plans.find((p) => p.kind === "amplitude")!.label).toBe("amplitude (dimensionless)");
  });
});

describe("phaseDisplay", () => {
  const n = 400;
  it("shows a phase inside (-pi, pi] linearly over its robust range", () => {
    const ph = Float32Array.from({ length: n }, (_, i) => -1.3 + 0.6 * (i / n));
    const d = phaseDisplay(ph);
    expect(d.wrapped).toBe(false);
    expect(d.shifted).toBe(0);
    expect(d.data).toBe(ph);
    expect(d.range[0]).toBeCloseTo(-1.3 + 0.6 * 0.01 * (n - 1) / n, 3);
  });

  it("moves the branch cut into the widest gap when the phase straddles +-pi, and says how many pixels moved", () => {
    // most of the phase at -2.9 .. -2.5, a few pixels past -pi (wrapped to +3.0 .. +3.1)
    const ph = Float32Array.from({ length: n }, (_, i) => (i < 20 ? 3.0 + 0.005 * i : -2.9 + 0.4 * (i / n)));
    const d = phaseDisplay(ph);
    expect(d.wrapped).toBe(false);
    expect(d.shifted).toBe(20);
    expect(d.shiftedBy).toBeCloseTo(-2 * Math.PI, 12);
    expect(d.data[0]).toBeCloseTo(3.0 - 2 * Math.PI, 5); // -3.28: below the rest, as it physically is
    expect(d.range[0]).toBeLessThan(-3.1);
    expect(d.range[1]).toBeLessThan(-2.4);
    expect(d.cut).toBeGreaterThan(-2.5);
    expect(d.cut).toBeLessThan(3.0);
  });

  it("uses the cyclic map only when the phase covers the whole circle", () => {
    const ramp = Float32Array.from({ length: n }, (_, i) => -Math.PI + (2 * Math.PI * i) / n);
    expect(phaseDisplay(ramp)).toMatchObject({ wrapped: true, range: [-Math.PI, Math.PI] });
    // three clusters at -pi/2, 0 and +pi/2 (a linear-link object): a half circle, shown linearly
    const tri = Float32Array.from({ length: n }, (_, i) => [-Math.PI / 2, 0.01 * (i % 7), Math.PI / 2][i % 3]);
    const d = phaseDisplay(tri);
    expect(d.wrapped).toBe(false);
    expect(d.range[0]).toBeCloseTo(-Math.PI / 2, 6);
    expect(d.range[1]).toBeCloseTo(Math.PI / 2, 6);
    expect(d.pinned!.fraction).toBeCloseTo(1 / 3, 2); // a third of the pixels at exactly one value: said in the figure
    const [plan] = planPreviews({ phase: tri, width: n, height: 1, elements: {} });
    expect(plan.note).toBe("34 % of pixels at exactly −1.571 rad (−π/2)");
    expect(phaseDisplay(ramp, undefined, "linear").wrapped).toBe(false);
    expect(phaseDisplay(tri, undefined, "wrapped").wrapped).toBe(true);
  });
});
