/**
 * The illuminated region of a scan (DESIGN.md "Metrics": errors are measured over it only).
 *
 *   map(r) = sum_j I_j(r - corner_j),      I_j = sum_k |T_{f_j} P_k|^2
 *
 * i.e. the probe intensity of every position placed at its window (integer corner iy/ix of geometry.ts, with the
 * same sub-pixel probe shift f_j the forward models apply; f_j = 0 when sub-pixel shifts are off), summed over
 * positions. The mask keeps the pixels where the map exceeds `fraction` (default 0.1) of its maximum.
 */
import type { Buf } from "../physics/complex.js";
import type { ScanWindows } from "../physics/geometry.js";
import { probeIntensity } from "../physics/xrf.js";
import type { ProbeModes } from "../scan/model.js";

export const DEFAULT_ILLUMINATION_FRACTION = 0.1;

/** Summed probe intensity over all scan positions on the H x W object grid (row-major, length H * W). */
export function illuminationMap(probe: ProbeModes | Buf, windows: ScanWindows): Float64Array {
  const { n, height, width } = windows;
  const data = ArrayBuffer.isView(probe) ? probe : probe.data;
  if (!ArrayBuffer.isView(probe) && probe.n !== n) {
    throw new Error(`illuminationMap: probe is ${probe.n} x ${probe.n} but the scan windows are ${n} x ${n}`);
  }
  if (data.length === 0 || data.length % (2 * n * n) !== 0) {
    throw new Error(`illuminationMap: probe of ${data.length} floats is not K x ${n} x ${n} complex`);
  }
  const map = new Float64Array(height * width);
  const intensity = new Float64Array(n * n);
  for (let j = 0; j < windows.count; j++) {
    probeIntensity(data, n, windows.fy[j], windows.fx[j], intensity);
    const iy = windows.iy[j], ix = windows.ix[j];
    for (let y = 0; y < n; y++) {
      const row = (iy + y) * width + ix;
      for (let x = 0; x < n; x++) map[row + x] += intensity[n * y + x];
    }
  }
  return map;
}

/** 1 where map > fraction * max(map), else 0. All zeros for an all-zero (or empty) map. */
export function illuminatedMask(map: ArrayLike<number>, fraction = DEFAULT_ILLUMINATION_FRACTION): Uint8Array {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`illuminatedMask: fraction must be in [0, 1), got ${fraction}`);
  let max = 0;
  for (let i = 0; i < map.length; i++) if (map[i] > max) max = map[i];
  const mask = new Uint8Array(map.length);
  if (!(max > 0)) return mask;
  const t = fraction * max;
  for (let i = 0; i < map.length; i++) mask[i] = map[i] > t ? 1 : 0;
  return mask;
}

/** Map, mask and the number of pixels in the mask, in one call. */
export function illuminatedRegion(
  probe: ProbeModes | Buf, windows: ScanWindows, fraction = DEFAULT_ILLUMINATION_FRACTION,
): { map: Float64Array; mask: Uint8Array; pixels: number } {
  const map = illuminationMap(probe, windows);
  const mask = illuminatedMask(map, fraction);
  let pixels = 0;
  for (let i = 0; i < mask.length; i++) pixels += mask[i];
  return { map, mask, pixels };
}
