import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { illuminatedMask, illuminationMap } from "../../src/metrics/illumination.js";
import { positionsToPixels } from "../../src/physics/geometry.js";
import { safeName, writePreviews } from "../../src/report/previews.js";
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
  return { phase, amplitude, width, height, elements: truth.elementMaps, mask };
}

describe("writePreviews", () => {
  it("writes phase, amplitude, element and overlay PNGs of a phantom, with their ranges", () => {
    const input = phantomPreviewInput("small");
    const out = writePreviews(dir, input);
    const names = out.entries.map((e) => e.name);
    expect(names).toEqual(["phase.png", "amplitude.png", "element_Fe.png", "overlay_Fe.png", "element_Zn.png", "overlay_Zn.png"]);
    expect(out.files).toEqual(names.map((n) => join(dir, n)));
    for (const f of out.files) {
      expect(existsSync(f)).toBe(true);
      const png = PNG.sync.read(readFileSync(f));
      expect(png.height).toBe(input.height * 4); // 64 px -> 4x to reach 256
      expect(png.width).toBeGreaterThan(input.width * 4);
    }
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
    expect(safeName("Fe")).toBe("Fe");
    expect(safeName("../x y")).toBe("___x_y");
  });
});
