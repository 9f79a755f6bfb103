/**
 * Periodic ("raster grid") artifact measure: how much power a reconstructed phase has at the spatial frequencies
 * of the scan grid, relative to the ground truth's phase at the same frequencies.
 *
 * A raster scan with steps (s_y, s_x) pixels imprints its periodicity on a reconstruction (the factorisation
 * ambiguity between probe and object): power appears at f = (a / s_y, b / s_x) cycles per pixel for integers
 * (a, b) != (0, 0) with |f_y|, |f_x| <= 1/2 (the fundamentals, their harmonics up to Nyquist and their
 * combinations). For each image:
 *   1. weights w = Hann(y) Hann(x) (separable, `apodize`, default on) times the mask (when given);
 *   2. the weighted mean of the phase is subtracted (so the DC and its leakage do not count), then x = w (phi - mean);
 *   3. X = DFT2(x) (dft.ts, any size); the measured power is sum |X(k)|^2 over the set of frequency bins within
 *      +-`radius` bins (default 1, per axis) of each grid frequency's nearest bin (k_y = round(f_y H),
 *      k_x = round(f_x W), wrapped), each bin counted once.
 * ratio = power(phase) / power(truthPhase): 1 for the truth itself, >> 1 with a grid artifact. Both images use
 * the same weights and bins. The phases should be comparable: aligned (global phase removed, e.g. the phase of
 * alignObject's output) and not wrapped differently.
 */
import { dft2 } from "./dft.js";
import { checkMask, type MaskLike } from "./mask.js";

export interface GridArtifactOptions {
  mask?: MaskLike;
  /** Separable Hann window over the whole image (default true). */
  apodize?: boolean;
  /** Half-width of the neighbourhood of bins around each grid frequency (default 1: 3 x 3 bins). */
  radius?: number;
}

export interface GridArtifact {
  /** power / truthPower (NaN when the truth has no power there). */
  ratio: number;
  /** Power of the phase at the grid frequencies (sum of |DFT|^2 of the weighted, mean-free phase). */
  power: number;
  truthPower: number;
  /** Number of distinct frequency bins summed. */
  bins: number;
}

function hann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = n > 1 ? 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n) : 1;
  return w;
}

/** Flags (1 = summed) of the H x W DFT bins near the grid frequencies (a / stepY, b / stepX). */
export function gridFrequencyBins(height: number, width: number, stepY_px: number, stepX_px: number, radius = 1): Uint8Array {
  if (!(stepY_px >= 2 && stepX_px >= 2)) throw new Error(`grid artifact: steps must be >= 2 px, got ${stepY_px} x ${stepX_px}`);
  if (!(Number.isInteger(radius) && radius >= 0)) throw new Error(`grid artifact: radius must be an integer >= 0, got ${radius}`);
  const bins = new Uint8Array(height * width);
  const amax = Math.floor(stepY_px / 2 + 1e-9), bmax = Math.floor(stepX_px / 2 + 1e-9);
  for (let a = -amax; a <= amax; a++) {
    for (let b = -bmax; b <= bmax; b++) {
      if (a === 0 && b === 0) continue;
      const ky = Math.round((a / stepY_px) * height), kx = Math.round((b / stepX_px) * width);
      for (let dy = -radius; dy <= radius; dy++) {
        for (let dx = -radius; dx <= radius; dx++) {
          const y = (((ky + dy) % height) + height) % height, x = (((kx + dx) % width) + width) % width;
          bins[y * width + x] = 1;
        }
      }
    }
  }
  // never count the DC bin itself (its neighbourhood may reach it for coarse grids on small images)
  bins[0] = 0;
  return bins;
}

function gridPower(phase: ArrayLike<number>, height: number, width: number, weights: Float64Array, bins: Uint8Array): number {
  const pixels = height * width;
  let sw = 0, sp = 0;
  for (let i = 0; i < pixels; i++) {
    sw += weights[i];
    sp += weights[i] * phase[i];
  }
  const mean = sw > 0 ? sp / sw : 0;
  const data = new Float64Array(2 * pixels);
  for (let i = 0; i < pixels; i++) data[2 * i] = weights[i] * (phase[i] - mean);
  dft2(data, height, width);
  let power = 0;
  for (let i = 0; i < pixels; i++) if (bins[i]) power += data[2 * i] ** 2 + data[2 * i + 1] ** 2;
  return power;
}

/**
 * Grid-artifact power of `phase` relative to `truthPhase` (both H x W, real), for a raster of steps
 * (stepY_px, stepX_px) object pixels (non-integer steps are fine). See the file comment.
 */
export function gridArtifactPower(
  phase: ArrayLike<number>, truthPhase: ArrayLike<number>, height: number, width: number,
  stepY_px: number, stepX_px: number, options: GridArtifactOptions = {},
): GridArtifact {
  const pixels = height * width;
  if (phase.length !== pixels || truthPhase.length !== pixels) {
    throw new Error(`grid artifact: images of ${phase.length} and ${truthPhase.length} values, expected ${height} x ${width}`);
  }
  checkMask(options.mask, pixels, "grid artifact");
  const bins = gridFrequencyBins(height, width, stepY_px, stepX_px, options.radius ?? 1);
  const weights = new Float64Array(pixels).fill(1);
  if (options.apodize ?? true) {
    const wy = hann(height), wx = hann(width);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) weights[y * width + x] = wy[y] * wx[x];
  }
  if (options.mask) for (let i = 0; i < pixels; i++) if (!options.mask[i]) weights[i] = 0;
  const power = gridPower(phase, height, width, weights, bins);
  const truthPower = gridPower(truthPhase, height, width, weights, bins);
  let count = 0;
  for (let i = 0; i < pixels; i++) count += bins[i];
  return { ratio: truthPower > 0 ? power / truthPower : NaN, power, truthPower, bins: count };
}
