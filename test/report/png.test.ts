import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { COLORMAPS, lutColour } from "../../src/report/colormap.js";
import { NAN_COLOUR, renderMapPng, renderOverlayPng, robustRange, writeMapPng, writeOverlayPng } from "../../src/report/png.js";

const dir = mkdtempSync(join(tmpdir(), "ptyxrf-png-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function decode(buf: Buffer): PNG {
  return PNG.sync.read(buf);
}
function at(png: PNG, x: number, y: number): number[] {
  const o = 4 * (y * png.width + x);
  return [png.data[o], png.data[o + 1], png.data[o + 2]];
}

// 10 x 6 ramp with a NaN; max at (9, 5), min at (0, 0)
const W = 10, H = 6;
const ramp = Float32Array.from({ length: W * H }, (_, i) => i);
ramp[W + 3] = NaN;

describe("writeMapPng", () => {
  it("writes a PNG that decodes to the expected size, with the colormap's ends at min and max", () => {
    const path = join(dir, "sub", "ramp.png");
    const r = writeMapPng(path, ramp, W, H, { colormap: "viridis", range: [0, W * H - 1], scale: 3 });
    const png = decode(readFileSync(path));
    expect([png.width, png.height]).toEqual([r.width, r.height]);
    expect(png.height).toBe(H * 3);
    expect(png.width).toBeGreaterThan(W * 3); // colour bar
    expect(r.range).toEqual([0, W * H - 1]);
    expect(at(png, 0, 0)).toEqual(lutColour(COLORMAPS.viridis, 0));
    expect(at(png, W * 3 - 1, H * 3 - 1)).toEqual(lutColour(COLORMAPS.viridis, 255));
    // upscaling: every 3 x 3 block is one colour
    expect(at(png, 3 * 4 + 2, 3 * 2 + 1)).toEqual(at(png, 3 * 4, 3 * 2));
    // NaN in neutral grey
    expect(at(png, 3 * 3 + 1, 3 * 1 + 1)).toEqual(NAN_COLOUR);
  });

  it("auto range uses robust percentiles and clamps outliers to the ends", () => {
    const data = Float64Array.from({ length: 400 }, (_, i) => i / 400);
    data[5] = -1e6;
    data[7] = 1e6;
    data[9] = Infinity;
    const r = renderMapPng(data, 20, 20, { colormap: "grey", scale: 1, colorbar: false });
    const [lo, hi] = robustRange(data);
    expect(r.range).toEqual([lo, hi]);
    expect(lo).toBeGreaterThan(0);
    expect(hi).toBeLessThan(1);
    const png = decode(r.png);
    expect([png.width, png.height]).toEqual([20, 20]);
    expect(at(png, 5, 0)).toEqual([0, 0, 0]);
    expect(at(png, 7, 0)).toEqual([255, 255, 255]);
    expect(at(png, 9, 0)).toEqual(NAN_COLOUR);
    expect(at(png, 19, 19)).toEqual([255, 255, 255]);
  });

  it("auto-scales small maps to at least 256 px, draws a colour bar, and dims outside the mask", () => {
    const data = Float32Array.from({ length: 64 }, (_, i) => i);
    const mask = Uint8Array.from({ length: 64 }, (_, i) => (i < 32 ? 1 : 0));
    const r = renderMapPng(data, 8, 8, { colormap: "grey", range: [0, 63], mask });
    expect(r.scale).toBe(32 > 16 ? 16 : 32); // capped at 16
    const big = renderMapPng(new Float32Array(100 * 60), 100, 60, {});
    expect(big.scale).toBe(5);
    expect(big.height).toBe(300);
    const png = decode(r.png);
    const s = r.scale;
    // inside the mask: value 8 -> entry floor(256 * 8 / 63); outside: value 40 dimmed
    const g8 = Math.floor((256 * 8) / 63);
    expect(at(png, 0, s)).toEqual([g8, g8, g8]);
    const g40 = Math.round(Math.floor((256 * 40) / 63) * 0.35);
    expect(at(png, 0, 5 * s)).toEqual([g40, g40, g40]);
    // the colour bar: white at its top, black at its bottom (inside the frame)
    const barX = png.width - 4;
    expect(at(png, barX, 1)).toEqual([255, 255, 255]);
    expect(at(png, barX, png.height - 2)).toEqual([0, 0, 0]);
  });

  it("wraps cyclic values into the range", () => {
    const data = [-Math.PI + 0.1, Math.PI + 0.1, 0, 3 * Math.PI];
    const r = renderMapPng(data, 4, 1, { colormap: "twilight", range: [-Math.PI, Math.PI], wrap: true, scale: 1, colorbar: false });
    const png = decode(r.png);
    expect(at(png, 0, 0)).toEqual(at(png, 1, 0));
    expect(at(png, 3, 0)).toEqual(lutColour(COLORMAPS.twilight, 0));
  });

  it("rejects bad input", () => {
    expect(() => renderMapPng(new Float32Array(5), 2, 2)).toThrow(/5 values for a 2 x 2/);
    expect(() => renderMapPng(new Float32Array(4), 2, 2, { scale: 1.5 })).toThrow(/scale/);
    expect(() => renderMapPng(new Float32Array(4), 2, 2, { mask: [1] })).toThrow(/mask has 1/);
  });
});

describe("writeOverlayPng", () => {
  it("is plain grey where the element is absent and coloured where it is present", () => {
    const w = 16, h = 16;
    const phase = Float32Array.from({ length: w * h }, (_, i) => (i % w) / w);
    const element = new Float32Array(w * h);
    for (let y = 4; y < 8; y++) for (let x = 4; x < 8; x++) element[y * w + x] = 1;
    const path = join(dir, "overlay.png");
    const r = writeOverlayPng(path, phase, element, w, h, { phaseRange: [0, 1], elementRange: [0, 1], scale: 2 });
    const png = decode(readFileSync(path));
    expect(png.height).toBe(32);
    expect(r.elementRange).toEqual([0, 1]);
    const grey = at(png, 2 * 10, 2 * 12);
    expect(grey[0]).toBe(grey[1]);
    expect(grey[1]).toBe(grey[2]);
    expect(grey[0]).toBe(Math.floor(256 * (10 / 16)));
    const plain = renderMapPng(phase, w, h, { colormap: "grey", range: [0, 1], scale: 2 });
    const p2 = decode(plain.png);
    expect(at(png, 2 * 12, 2 * 2)).toEqual(at(p2, 2 * 12, 2 * 2));
    const inside = at(png, 2 * 5, 2 * 5), greyThere = at(p2, 2 * 5, 2 * 5);
    expect(inside).not.toEqual(greyThere);
    expect(inside[0]).toBeGreaterThan(inside[1] + 100); // magenta: red and blue high, green low
    expect(inside[2]).toBeGreaterThan(inside[1] + 100);
    const nanOverlay = renderOverlayPng([NaN, 0, 0, 0], [0, 0, 0, 0], 2, 2, { scale: 1, colorbar: false });
    expect(at(decode(nanOverlay.png), 0, 0)).toEqual(NAN_COLOUR);
  });
});
