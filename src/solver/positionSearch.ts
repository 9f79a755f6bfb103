/**
 * Grid search of scan positions: the capture range of gradient-based position refinement is about the size of
 * the object's features (a couple of pixels for a textured sample), so a position recorded several pixels off
 * stays in a local minimum while its neighbours converge. Once the object is good (most positions refined),
 * each position's loss is evaluated with the current object and probe at whole-window offsets on a grid
 * (every `step` px out to `radius` px around its corner) and the position jumps to the best offset when that
 * lowers its own loss by more than `minGain` (relative); the gradient steps then refine it below a pixel.
 *
 * Cost: (2 floor(radius / step) + 1)^2 forward passes over all positions (no gradients), in chunks of
 * `chunk` positions so that the model intensities of the whole scan are never held at once.
 */
import type { Engine, EngineState } from "../engine/engine.js";
import { windowsFromCorners, type ScanWindows } from "../physics/geometry.js";
import { ptychoLoss, type PtychoNoiseModel } from "../physics/losses.js";

export interface PositionSearchOptions {
  /** Largest offset tried, in pixels along each axis. */
  radius: number;
  /** Grid spacing of the offsets, in pixels (> 0). */
  step: number;
  /** A move needs loss(best) < (1 - minGain) loss(current) for that position. */
  minGain?: number;
  /** Positions per intensities() call (default 256). */
  chunk?: number;
  /** Sub-pixel windows (the solver's `subpixel`). */
  subpixel: boolean;
}

export interface PositionSearchResult {
  /** Positions that moved. */
  moved: number[];
  /** Forward passes over all positions that the search cost (offsets tried, including the current one). */
  passes: number;
}

/** The offsets of the grid: (0, 0) first, then every `step` px out to `radius` px on each axis. */
export function searchOffsets(radius: number, step: number): [number, number][] {
  if (!(radius >= 0) || !(step > 0)) throw new Error(`position search: radius must be >= 0 and step > 0, got ${radius}, ${step}`);
  const k = Math.floor(radius / step + 1e-9);
  const out: [number, number][] = [[0, 0]];
  for (let a = -k; a <= k; a++) for (let b = -k; b <= k; b++) if (a !== 0 || b !== 0) out.push([a * step, b * step]);
  return out;
}

/**
 * Search the positions in place (`corners`, (y, x) pairs in object pixels) against the measured `diffraction`
 * [npos, N, N] with the engine's current object/probe `state`. Leaves the engine on the updated windows.
 */
export async function searchPositions(
  engine: Engine, state: EngineState, corners: Float64Array, diffraction: Float32Array, model: PtychoNoiseModel,
  grid: { height: number; width: number }, n: number, options: PositionSearchOptions,
): Promise<PositionSearchResult> {
  const npos = corners.length / 2, nn = n * n;
  const chunk = Math.max(1, Math.floor(options.chunk ?? 256));
  const minGain = options.minGain ?? 0.02;
  const offsets = searchOffsets(options.radius, options.step);
  const best = new Float64Array(npos).fill(Infinity), current = new Float64Array(npos);
  const bestOffset = new Int32Array(npos).fill(0);
  const trial = new Float64Array(corners.length);
  const windowsAt = (c: Float64Array): ScanWindows => windowsFromCorners(c, grid, n, { subpixel: options.subpixel, clamp: true });
  for (let o = 0; o < offsets.length; o++) {
    const [oy, ox] = offsets[o];
    for (let j = 0; j < npos; j++) {
      trial[2 * j] = corners[2 * j] + oy;
      trial[2 * j + 1] = corners[2 * j + 1] + ox;
    }
    const windows = windowsAt(trial);
    await engine.setWindows(windows);
    for (let start = 0; start < npos; start += chunk) {
      const count = Math.min(chunk, npos - start);
      const model_ = await engine.intensities(state, start, count);
      for (let i = 0; i < count; i++) {
        const j = start + i;
        // a window the grid clamped is not at this offset: skip it
        if (o > 0 && (Math.abs(windows.corner[2 * j] - trial[2 * j]) > 1e-9 || Math.abs(windows.corner[2 * j + 1] - trial[2 * j + 1]) > 1e-9)) continue;
        const loss = ptychoLoss(model, model_.subarray(i * nn, (i + 1) * nn), diffraction.subarray(j * nn, (j + 1) * nn), null);
        if (o === 0) current[j] = loss;
        if (loss < best[j]) {
          best[j] = loss;
          bestOffset[j] = o;
        }
      }
    }
  }
  const moved: number[] = [];
  for (let j = 0; j < npos; j++) {
    if (bestOffset[j] === 0 || !(best[j] < (1 - minGain) * current[j])) continue;
    corners[2 * j] += offsets[bestOffset[j]][0];
    corners[2 * j + 1] += offsets[bestOffset[j]][1];
    moved.push(j);
  }
  await engine.setWindows(windowsAt(corners));
  return { moved, passes: offsets.length };
}
