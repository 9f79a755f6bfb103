/**
 * Position refinement benchmark (`npm run build && node dist/bench/positions.js [--json] [--preset small]
 * [--iterations N] [--rms PX] [--mode ptycho|joint] [--grid G] [--step PX] [--search PX]`): simulate a scan
 * (the preset's sample and noise on a 96 x 96 object, probe 32 (beam about 13 px across), a G x G raster of
 * PX px steps: default 12 x 12 at 4 px, about 70 % overlap; `--grid 8 --step 6` is about 55 %), perturb its
 * recorded positions by random errors of PX pixels rms (default 2), reconstruct with and without position
 * refinement (gradient steps after 10 iterations, plus a grid search out to `--search` px, default 6, every
 * 100 iterations; 0 turns it off), and report the rms position error before and after (raw, and with the
 * mean offset removed: a common shift of all positions is the same object shifted), for all positions and for
 * the interior ones (the scan's edge positions see object that no other position sees), and the object error
 * of both runs.
 */
import { parseArgs } from "node:util";
import { createEngine } from "../src/engine/index.js";
import type { PresetName } from "../src/sim/presets.js";
import { Rng } from "../src/sim/rng.js";
import { simulate } from "../src/sim/simulate.js";
import { makeEvaluator } from "../src/solver/evaluate.js";
import type { LoadedScan } from "../src/solver/problem.js";
import { reconstruct } from "../src/solver/reconstruct.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" }, preset: { type: "string" }, iterations: { type: "string" }, rms: { type: "string" },
    mode: { type: "string" }, seed: { type: "string" }, after: { type: "string" }, rate: { type: "string" },
    grid: { type: "string" }, step: { type: "string" }, search: { type: "string" },
  },
});
const preset = (values.preset ?? "small") as PresetName;
const iterations = Number(values.iterations ?? 200);
/** rms of the 2-D position error in pixels (each axis gets rms / sqrt 2). */
const rmsPx = Number(values.rms ?? 2);
const refineAfter = Number(values.after ?? 10);
const side = Number(values.grid ?? 12), step_px = Number(values.step ?? 4), searchRadius = Number(values.search ?? 6);
const rate = Number(values.rate ?? 0.1);
const mode = values.mode ?? "ptycho";
const seed = Number(values.seed ?? 1);

// a raster with a margin around it, so that perturbed positions still fit the object grid
const sim = simulate({ preset, seed, objectSize: 96, probeSize: 32, scan: { pattern: "raster", grid: [side, side], step_px } });
const { npos, frameSize: n } = sim.header;
const diffraction = new Float32Array(new SharedArrayBuffer(4 * npos * n * n));
diffraction.set(sim.frames.frames(0, npos));
const dx = sim.truth.pixelSize_m;
const rng = new Rng(seed, 0x9051);
const perturbed = Float64Array.from(sim.header.positions);
for (let i = 0; i < perturbed.length; i++) perturbed[i] += (rmsPx / Math.SQRT2) * dx * rng.normal();
const scan: LoadedScan = { header: { ...sim.header, positions: perturbed }, diffraction, source: `sim:${preset}` };
const grid = { height: sim.truth.object.height, width: sim.truth.object.width };

/** Interior positions of the raster (not on its first or last row or column). */
const interior = (j: number) => { const r = Math.floor(j / side), c = j % side; return r > 0 && c > 0 && r < side - 1 && c < side - 1; };

function positionError(corners: ArrayLike<number>): { rms: number; rms_demeaned: number; rms_demeaned_interior: number; max_demeaned: number } {
  const t = sim.truth.positions_px;
  let my = 0, mx = 0;
  for (let j = 0; j < npos; j++) { my += corners[2 * j] - t[2 * j]; mx += corners[2 * j + 1] - t[2 * j + 1]; }
  my /= npos; mx /= npos;
  let raw = 0, dem = 0, inner = 0, count = 0, max = 0;
  for (let j = 0; j < npos; j++) {
    const ey = corners[2 * j] - t[2 * j], ex = corners[2 * j + 1] - t[2 * j + 1];
    const d2 = (ey - my) ** 2 + (ex - mx) ** 2;
    raw += ey * ey + ex * ex;
    dem += d2;
    max = Math.max(max, Math.sqrt(d2));
    if (interior(j)) { inner += d2; count++; }
  }
  return { rms: Math.sqrt(raw / npos), rms_demeaned: Math.sqrt(dem / npos), rms_demeaned_interior: Math.sqrt(inner / Math.max(1, count)), max_demeaned: max };
}

async function run(refine: boolean) {
  const engine = await createEngine("cpu");
  try {
    const r = await reconstruct(scan, { mode, iterations, positions: { refine, refineAfter, rate, maxStep: 0.5, search: { radius: searchRadius, step: 2, every: 100 } } }, { engine, grid });
    const e = makeEvaluator(sim.truth, r.geometry.windows)(r, r.elements, mode);
    return { corners: r.geometry.windows.corner, object_rel_error: e.object_rel_error! };
  } finally {
    await engine.dispose();
  }
}

const before = await run(false);
const after = await run(true);
const result = {
  preset, mode, iterations, raster: `${side}x${side}`, step_px, perturbation_rms_px: rmsPx, refine_after: refineAfter, rate, search_radius_px: searchRadius,
  position_error_before: positionError(before.corners),
  position_error_after: positionError(after.corners),
  object_rel_error_without_refinement: before.object_rel_error,
  object_rel_error_with_refinement: after.object_rel_error,
};
console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
