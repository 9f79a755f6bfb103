/**
 * Scan patterns on an H x W object for an N x N probe window, as (y, x) offsets in object pixels from the object
 * centre (multiply by the pixel size for metres; geometry.ts maps offset 0 to a window centred on the object).
 *
 * Overlap o sets the step: step = D (1 - o), D the beam diameter (probe.ts beamDiameter_px: the diameter holding
 * 86.5 % of the probe intensity, the 1/e^2 diameter for a Gaussian beam).
 *   raster: a grid centred on the object, y slow and x fast. With `overlap` alone the grid is the largest that
 *           fits; with `grid` alone the step spreads the grid over the whole object (effective overlap reported);
 *           with both, the grid must fit. Optional uniform jitter in [-jitter, jitter] px per axis.
 *           `step_px` fixes the step instead (whole-pixel steps give whole-pixel positions: no sub-pixel shifts).
 *   fermat: Fermat spiral r_i = c sqrt(i), theta_i = i * 137.508 deg, with c = step / sqrt(pi) so that each point
 *           covers step^2 of area, like a raster of that step; points whose window would leave the object are
 *           skipped; `npos` caps the count (default: all that fit).
 * Every window lies inside the object: each continuous corner is within [0, H - N] x [0, W - N].
 */
import type { Rng } from "./rng.js";

export type ScanPatternKind = "raster" | "fermat";

export interface ScanSpec {
  pattern: ScanPatternKind;
  overlap?: number;
  grid?: [number, number];
  npos?: number;
  jitter_px?: number;
  /** Raster only: a fixed step in object pixels (instead of one from the overlap or the grid). */
  step_px?: number;
}

export interface ScanArea {
  height: number;
  width: number;
  n: number;
  beamDiameter_px: number;
}

export interface ScanLayout {
  /** (y, x) offsets from the object centre in object pixels, length 2 * npos. */
  positions_px: Float64Array;
  npos: number;
  /** Raster grid [ny, nx] (raster order), absent for spirals. */
  raster?: [number, number];
  /** Step (y, x) in pixels; the spiral's equivalent raster step on both axes. */
  step_px: [number, number];
  /** Effective overlap 1 - max(step) / D. */
  overlap: number;
}

const GOLDEN_ANGLE = Math.PI * (3 - Math.sqrt(5));
const DEFAULT_OVERLAP = 0.5;

function checkOverlap(o: number): void {
  if (!(o >= 0 && o < 1)) throw new Error(`scan overlap must be in [0, 1), got ${o}`);
}

export function scanPattern(spec: ScanSpec, area: ScanArea, rng: Rng): ScanLayout {
  const { height: H, width: W, n, beamDiameter_px: D } = area;
  if (!(D > 0)) throw new Error(`beam diameter must be > 0 px, got ${D}`);
  if (H < n || W < n) throw new Error(`object ${H}x${W} is smaller than the ${n}x${n} probe window`);
  if (spec.pattern === "raster") return raster(spec, H, W, n, D, rng);
  if (spec.pattern === "fermat") return fermat(spec, H, W, n, D);
  throw new Error(`unknown scan pattern "${spec.pattern as string}" (raster, fermat)`);
}

function raster(spec: ScanSpec, H: number, W: number, n: number, D: number, rng: Rng): ScanLayout {
  const jitter = spec.jitter_px ?? 0;
  if (!(jitter >= 0)) throw new Error(`raster jitter must be >= 0 px, got ${jitter}`);
  const half = [(H - n) / 2 - jitter, (W - n) / 2 - jitter];
  if (half[0] < 0 || half[1] < 0) throw new Error(`jitter ${jitter} px leaves no room for a window on the ${H}x${W} object`);
  let grid = spec.grid;
  let step: [number, number];
  if (spec.step_px !== undefined) {
    const st = spec.step_px;
    if (!(st > 0)) throw new Error(`raster step must be > 0 px, got ${st}`);
    step = [st, st];
    const fits = half.map((h) => Math.floor((2 * h) / st + 1e-9) + 1);
    if (!grid) grid = [fits[0], fits[1]];
    else if (grid[0] > fits[0] || grid[1] > fits[1]) {
      throw new Error(`a ${grid[0]}x${grid[1]} raster with step ${st} px does not fit the ${H}x${W} object with an ${n}px probe; at most ${fits[0]}x${fits[1]}`);
    }
  } else if (spec.overlap === undefined && grid) {
    step = [0, 1].map((a) => (grid![a] > 1 ? (2 * half[a]) / (grid![a] - 1) : 0)) as [number, number];
  } else {
    const overlap = spec.overlap ?? DEFAULT_OVERLAP;
    checkOverlap(overlap);
    const s = D * (1 - overlap);
    step = [s, s];
    const fits = half.map((h) => Math.floor((2 * h) / s + 1e-9) + 1);
    if (!grid) grid = [fits[0], fits[1]];
    else if (grid[0] > fits[0] || grid[1] > fits[1]) {
      throw new Error(
        `a ${grid[0]}x${grid[1]} raster with step ${s.toFixed(2)} px (overlap ${overlap}, beam ${D.toFixed(1)} px) ` +
          `does not fit the ${H}x${W} object with an ${n}px probe; at most ${fits[0]}x${fits[1]}`,
      );
    }
  }
  const [ny, nx] = grid;
  if (!(Number.isInteger(ny) && Number.isInteger(nx) && ny >= 1 && nx >= 1)) throw new Error(`raster grid must be positive integers, got ${ny}x${nx}`);
  const positions = new Float64Array(2 * ny * nx);
  for (let iy = 0, j = 0; iy < ny; iy++) {
    for (let ix = 0; ix < nx; ix++, j++) {
      positions[2 * j] = (iy - (ny - 1) / 2) * step[0] + jitter * (2 * rng.uniform() - 1);
      positions[2 * j + 1] = (ix - (nx - 1) / 2) * step[1] + jitter * (2 * rng.uniform() - 1);
    }
  }
  return { positions_px: positions, npos: ny * nx, raster: [ny, nx], step_px: step, overlap: 1 - Math.max(...step) / D };
}

function fermat(spec: ScanSpec, H: number, W: number, n: number, D: number): ScanLayout {
  const overlap = spec.overlap ?? DEFAULT_OVERLAP;
  checkOverlap(overlap);
  const step = D * (1 - overlap), c = step / Math.sqrt(Math.PI);
  const hy = (H - n) / 2, hx = (W - n) / 2, rmax = Math.hypot(hy, hx);
  const limit = spec.npos ?? Infinity;
  if (spec.npos !== undefined && !(Number.isInteger(spec.npos) && spec.npos >= 1)) throw new Error(`npos must be an integer >= 1, got ${spec.npos}`);
  const pts: number[] = [];
  for (let i = 0; pts.length / 2 < limit; i++) {
    const r = c * Math.sqrt(i);
    if (r > rmax) break;
    const y = r * Math.sin(i * GOLDEN_ANGLE), x = r * Math.cos(i * GOLDEN_ANGLE);
    if (Math.abs(y) <= hy && Math.abs(x) <= hx) pts.push(y, x);
  }
  if (pts.length / 2 < limit && spec.npos !== undefined) {
    throw new Error(`only ${pts.length / 2} Fermat-spiral positions with step ${step.toFixed(2)} px fit the ${H}x${W} object, ${spec.npos} requested`);
  }
  return { positions_px: Float64Array.from(pts), npos: pts.length / 2, step_px: [step, step], overlap };
}
