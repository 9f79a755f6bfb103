/**
 * Scan geometry: wavelength, object pixel size, positions -> probe windows, sub-pixel probe shifts.
 *
 * Position convention (the simulator, the solver and the metrics all rely on it):
 *   - positions are (y, x) in metres; position (0, 0) is the centre of the object grid;
 *   - the probe window of N x N object pixels at position p has its continuous top-left corner at
 *       corner = p / dx + (H - N) / 2          (per axis, H the object height or width in pixels)
 *     so the window centre (pixel N/2 of the window, where the centred FFT puts its origin) lands on object
 *     coordinate p / dx + H / 2: at p = 0 the probe is centred on the object;
 *   - the integer part of the corner is round(corner) (nearest integer), selecting the window
 *     object[iy .. iy + N - 1, ix .. ix + N - 1]; the fractional part f = corner - round(corner) lies in
 *     [-0.5, 0.5] and is applied as a sub-pixel shift of the probe by +f (P(u - f) inside the window), or
 *     dropped when sub-pixel shifts are disabled;
 *   - every window must lie inside the object: 0 <= iy and iy + N <= H (same for x).
 */
import { HC_KEV_M, pixelSizeFromGeometry } from "../scan/geometryFacts.js";
import type { Buf } from "./complex.js";
import { fft2 } from "./fft.js";

export { HC_KEV_M };

/** X-ray wavelength in metres for a photon energy in keV. */
export function wavelength_m(energy_keV: number): number {
  if (!(energy_keV > 0)) throw new Error(`wavelength_m: energy must be > 0 keV, got ${energy_keV}`);
  return HC_KEV_M / energy_keV;
}

/** Object pixel size dx = lambda z / (N p_det) for N-pixel frames at detector distance z with pixel p_det. */
export function pixelSize_m(energy_keV: number, distance_m: number, n: number, detectorPixel_m: number): number {
  wavelength_m(energy_keV); // validates the energy
  return pixelSizeFromGeometry(energy_keV, distance_m, n, detectorPixel_m);
}

/** Probe windows of a scan on an H x W object grid. */
export interface ScanWindows {
  height: number;
  width: number;
  /** Window (probe) size N. */
  n: number;
  count: number;
  /** Continuous top-left corners in object pixels, (y, x) per position, length 2 * count. */
  corner: Float64Array;
  /** Integer corners round(corner). */
  iy: Int32Array;
  ix: Int32Array;
  /** Sub-pixel probe shifts corner - round(corner) in [-0.5, 0.5] (zero when sub-pixel shifts are off). */
  fy: Float64Array;
  fx: Float64Array;
}

export function positionsToPixels(
  positions_m: ArrayLike<number>,
  pixelSize: number,
  object: { height: number; width: number },
  n: number,
  options: { subpixel?: boolean } = {},
): ScanWindows {
  const { height, width } = object;
  if (positions_m.length % 2 !== 0) throw new Error(`positions: expected (y, x) pairs, got ${positions_m.length} values`);
  if (!(pixelSize > 0)) throw new Error(`positions: pixel size must be > 0, got ${pixelSize}`);
  const corners = new Float64Array(positions_m.length);
  for (let j = 0; j < positions_m.length / 2; j++) {
    const cy = (corners[2 * j] = positions_m[2 * j] / pixelSize + (height - n) / 2);
    const cx = (corners[2 * j + 1] = positions_m[2 * j + 1] / pixelSize + (width - n) / 2);
    const iy = Math.round(cy), ix = Math.round(cx);
    if (!(iy >= 0 && iy + n <= height && ix >= 0 && ix + n <= width)) {
      throw new Error(
        `positions: window ${j} at (y, x) = (${positions_m[2 * j]}, ${positions_m[2 * j + 1]}) m has corner ` +
          `(${cy.toFixed(2)}, ${cx.toFixed(2)}) px; an ${n}x${n} window must lie inside the ${height}x${width} object`,
      );
    }
  }
  return windowsFromCorners(corners, object, n, { subpixel: options.subpixel ?? true });
}

/**
 * Scan windows from continuous corners (object pixels, (y, x) pairs): the same rule as positionsToPixels
 * (geometry.ts): integer corner round(c), sub-pixel shift f = c - round(c) (zero when subpixel is false).
 * Windows must lie inside the object: out-of-range corners throw, or with `clamp` are first clamped to
 * [0, H - N] x [0, W - N] (the returned windows' `corner` holds the clamped values).
 */
export function windowsFromCorners(
  corners: ArrayLike<number>, object: { height: number; width: number }, n: number,
  options: { subpixel?: boolean; clamp?: boolean } = {},
): ScanWindows {
  const subpixel = options.subpixel ?? true;
  const { height, width } = object;
  if (corners.length % 2 !== 0) throw new Error(`corners: expected (y, x) pairs, got ${corners.length} values`);
  const count = corners.length / 2;
  const w: ScanWindows = {
    height, width, n, count,
    corner: new Float64Array(2 * count),
    iy: new Int32Array(count), ix: new Int32Array(count),
    fy: new Float64Array(count), fx: new Float64Array(count),
  };
  for (let j = 0; j < count; j++) {
    let cy = corners[2 * j], cx = corners[2 * j + 1];
    if (!(Number.isFinite(cy) && Number.isFinite(cx))) throw new Error(`corners: position ${j} is not finite (${cy}, ${cx})`);
    if (options.clamp) {
      cy = Math.min(Math.max(cy, 0), height - n);
      cx = Math.min(Math.max(cx, 0), width - n);
    }
    const iy = Math.round(cy), ix = Math.round(cx);
    if (!(iy >= 0 && iy + n <= height && ix >= 0 && ix + n <= width)) {
      throw new Error(
        `corners: window ${j} at corner (${cy.toFixed(2)}, ${cx.toFixed(2)}) px; an ${n}x${n} window must lie inside ` +
          `the ${height}x${width} object`,
      );
    }
    w.corner[2 * j] = cy;
    w.corner[2 * j + 1] = cx;
    w.iy[j] = iy;
    w.ix[j] = ix;
    if (subpixel) {
      w.fy[j] = cy - iy;
      w.fx[j] = cx - ix;
    }
  }
  return w;
}

/**
 * Smallest grid, symmetric about position 0 (H - N even), on which every continuous window corner lies in
 * [margin, H - N - margin] under the convention above. Positions should be centred on the scanned area
 * (subtract a stage offset first).
 */
export function objectShapeFor(
  positions_m: ArrayLike<number>,
  pixelSize: number,
  n: number,
  margin_px = 0,
): { height: number; width: number } {
  let my = 0, mx = 0;
  for (let j = 0; j < positions_m.length; j += 2) {
    my = Math.max(my, Math.abs(positions_m[j] / pixelSize));
    mx = Math.max(mx, Math.abs(positions_m[j + 1] / pixelSize));
  }
  return { height: n + 2 * Math.ceil(my + margin_px), width: n + 2 * Math.ceil(mx + margin_px) };
}

const rampCache = new Map<number, Float64Array>();

/** exp(-2 pi i (k - N/2) f / N) for k = 0..N-1, into a cached buffer (2 rows: y then x). */
function shiftRamps(n: number, fy: number, fx: number): Float64Array {
  let r = rampCache.get(n);
  if (!r) {
    r = new Float64Array(4 * n);
    rampCache.set(n, r);
  }
  for (let k = 0; k < n; k++) {
    const q = (-2 * Math.PI * (k - n / 2)) / n;
    r[2 * k] = Math.cos(q * fy);
    r[2 * k + 1] = Math.sin(q * fy);
    r[2 * n + 2 * k] = Math.cos(q * fx);
    r[2 * n + 2 * k + 1] = Math.sin(q * fx);
  }
  return r;
}

/**
 * out = T_f probe: every N x N mode of `probe` shifted by (fy, fx) pixels (content moves towards larger
 * indices for f > 0) with the Fourier shift theorem: F^H diag(exp(-2 pi i (k - N/2) . f / N)) F. Circular and
 * unitary; T_f^H = T_{-f}; integer f is an exact circular shift. out may alias probe.
 */
export function subpixelShiftProbe(probe: Buf, n: number, fy: number, fx: number, out: Buf): void {
  const frame = 2 * n * n;
  if (probe.length % frame !== 0 || out.length < probe.length) {
    throw new Error(`subpixelShiftProbe: probe of ${probe.length} floats is not K x ${n} x ${n} complex`);
  }
  if (out !== probe) out.set(probe);
  const f = fft2(n);
  const ramp = shiftRamps(n, fy, fx);
  for (let m = 0; m < probe.length / frame; m++) {
    f.forward(out, m);
    for (let y = 0; y < n; y++) {
      const ry = ramp[2 * y], iy = ramp[2 * y + 1];
      for (let x = 0; x < n; x++) {
        const rx = ramp[2 * n + 2 * x], ix = ramp[2 * n + 2 * x + 1];
        const pr = ry * rx - iy * ix, pi = ry * ix + iy * rx;
        const d = m * frame + 2 * (n * y + x);
        const a = out[d], b = out[d + 1];
        out[d] = a * pr - b * pi;
        out[d + 1] = a * pi + b * pr;
      }
    }
    f.inverse(out, m);
  }
}
