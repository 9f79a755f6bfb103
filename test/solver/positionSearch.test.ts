import { afterAll, describe, expect, it } from "vitest";
import { createEngine } from "../../src/engine/index.js";
import { windowsFromCorners } from "../../src/physics/geometry.js";
import { Rng } from "../../src/sim/rng.js";
import { resolveConfig } from "../../src/solver/config.js";
import { searchOffsets, searchPositions } from "../../src/solver/positionSearch.js";
import { reconstruct } from "../../src/solver/reconstruct.js";
import type { Engine } from "../../src/engine/engine.js";
import { simScan } from "./simScan.js";

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

describe("searchOffsets", () => {
  it("starts with (0, 0) and covers the grid out to the radius", () => {
    const o = searchOffsets(6, 2);
    expect(o[0]).toEqual([0, 0]);
    expect(o).toHaveLength(49);
    expect(new Set(o.map(([a, b]) => `${a},${b}`)).size).toBe(49);
    expect(Math.max(...o.flat())).toBe(6);
    expect(Math.min(...o.flat())).toBe(-6);
    expect(searchOffsets(5, 2)).toHaveLength(25);
    expect(searchOffsets(0, 1)).toEqual([[0, 0]]);
    expect(() => searchOffsets(3, 0)).toThrow(/step > 0/);
  });
});

// a 96 x 96 object, probe 32, 8 x 8 raster of 6 px steps: an 11 px margin around the scan
const sim = { preset: "small" as const, seed: 4, objectSize: 96, probeSize: 32, scan: { pattern: "raster" as const, grid: [8, 8] as [number, number], step_px: 6 } };

describe("searchPositions", () => {
  it("with the true object and probe, returns positions displaced by whole offsets beyond a gradient's reach", async () => {
    const { scan, truth } = simScan(sim);
    const n = scan.header.frameSize, grid = { height: 96, width: 96 };
    const t = Float64Array.from(truth.positions_px);
    const engine = await createEngine("cpu", { threads: 1 });
    engines.push(engine);
    await engine.load({ windows: windowsFromCorners(t, grid, n), modes: 1, diffraction: scan.diffraction, ptychoModel: "gaussian" });
    const state = { object: Float32Array.from(truth.object.data), probe: Float32Array.from(truth.probe.data) };
    const lossAtTruth = (await engine.evaluate(state, { ptycho: true, xrf: false, probeGradient: false })).lossPtycho;
    const displaced: Record<number, [number, number]> = { 9: [4, -4], 27: [-6, 2], 36: [2, 6], 50: [-4, 0] };
    const corners = Float64Array.from(t);
    for (const [j, [dy, dx]] of Object.entries(displaced)) {
      corners[2 * Number(j)] += dy;
      corners[2 * Number(j) + 1] += dx;
    }
    const r = await searchPositions(engine, state, corners, scan.diffraction, "gaussian", grid, n, { radius: 6, step: 2, subpixel: true });
    expect(r.passes).toBe(49);
    expect(r.moved.sort((a, b) => a - b)).toEqual([9, 27, 36, 50]);
    for (let i = 0; i < corners.length; i++) expect(corners[i]).toBeCloseTo(t[i], 9);
    // the engine is left on the searched windows: its loss is the loss at the true positions
    const after = await engine.evaluate(state, { ptycho: true, xrf: false, probeGradient: false });
    expect(after.lossPtycho).toBeCloseTo(lossAtTruth, 6);
  });

  it("leaves positions alone when no offset is clearly better, and never moves a window off the object", async () => {
    const { scan, truth } = simScan(sim);
    const n = scan.header.frameSize, grid = { height: 96, width: 96 };
    const engine = await createEngine("reference");
    engines.push(engine);
    const t = Float64Array.from(truth.positions_px);
    await engine.load({ windows: windowsFromCorners(t, grid, n), modes: 1, diffraction: scan.diffraction, ptychoModel: "poisson" });
    const corners = Float64Array.from(t);
    const state = { object: Float32Array.from(truth.object.data), probe: Float32Array.from(truth.probe.data) };
    // radius 12 reaches past the 11 px margin for the edge positions: those offsets are skipped, not clamped
    const r = await searchPositions(engine, state, corners, scan.diffraction, "poisson", grid, n, { radius: 12, step: 4, subpixel: true });
    expect(r.moved).toEqual([]);
    expect(Array.from(corners)).toEqual(Array.from(t));
  });
});

describe("reconstruct with position refinement and search", () => {
  it("brings 2 px rms position errors below 0.5 px on a 70 %-overlap raster", async () => {
    const { scan, truth } = simScan({ ...sim, seed: 2, scan: { pattern: "raster", grid: [12, 12], step_px: 4 } });
    const dx = truth.pixelSize_m, npos = scan.header.npos;
    const rng = new Rng(2, 0x9051);
    const perturbed = Float64Array.from(scan.header.positions);
    for (let i = 0; i < perturbed.length; i++) perturbed[i] += Math.SQRT1_2 * 2 * dx * rng.normal();
    const engine = await createEngine("cpu", { threads: 1 });
    engines.push(engine);
    const r = await reconstruct(
      { ...scan, header: { ...scan.header, positions: perturbed } },
      { mode: "ptycho", iterations: 200, positions: { refine: true, refineAfter: 10, search: { radius: 6, step: 2, every: 60 } } },
      { engine, grid: { height: 96, width: 96 } },
    );
    const rmsDemeaned = (c: ArrayLike<number>) => {
      let my = 0, mx = 0, s = 0;
      for (let j = 0; j < npos; j++) { my += c[2 * j] - truth.positions_px[2 * j]; mx += c[2 * j + 1] - truth.positions_px[2 * j + 1]; }
      my /= npos; mx /= npos;
      for (let j = 0; j < npos; j++) s += (c[2 * j] - truth.positions_px[2 * j] - my) ** 2 + (c[2 * j + 1] - truth.positions_px[2 * j + 1] - mx) ** 2;
      return Math.sqrt(s / npos);
    };
    // corners of the recorded positions (the common offset of the convention drops out of the demeaned error)
    expect(rmsDemeaned(Array.from(perturbed, (p) => p / dx))).toBeGreaterThan(1.5);
    expect(rmsDemeaned(r.geometry.windows.corner)).toBeLessThan(0.5);
    expect(r.history.records.some((rec) => (rec.steps.positions_searched ?? 0) > 0)).toBe(true);
  }, 60_000);
});

describe("config", () => {
  it("validates the search and the refinement method", () => {
    expect(resolveConfig({ positions: { search: { radius: 6 } } }).positions.search).toEqual({ radius: 6, step: 2, every: 100 });
    expect(() => resolveConfig({ positions: { search: { step: 0 } } })).toThrow(/positions.search/);
    expect(() => resolveConfig({ positions: { search: { every: 0.5 } } })).toThrow(/positions.search/);
    expect(resolveConfig({ positions: { method: "gradient" } }).positions.method).toBe("gradient");
    expect(() => resolveConfig({ positions: { method: "newton" as never } })).toThrow(/positions.method/);
  });
});
