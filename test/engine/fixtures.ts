/** The small problem the engine parity tests share: a 40 x 40 object, 16 x 16 windows, 12 positions. */
import { positionsToPixels, type ScanWindows } from "../../src/physics/geometry.js";

export const H = 40, W = 40, N = 16, dx = 1e-8;
/**
 * (y, x) pixel offsets from the object centre: sub-pixel fractions, exact integers, a near-integer (< 1e-6:
 * treated as integer by the cpu engine).
 */
export const POS_PX = [
  0, 0, -3.3, 4.45, 5.2, -7.9, 2.5, 1.25, -10.6, -9.2, 9.7, 10.1,
  -6, 3, 7, 7, 1e-9, -4, -1.75, -11.4, 11.3, -0.4, 4.05, 8.8,
];
export const NPOS = POS_PX.length / 2;
export const windowsAt = (px: ArrayLike<number>): ScanWindows =>
  positionsToPixels(Array.from(px, (p) => p * dx), dx, { height: H, width: W }, N);
export const WIN = windowsAt(POS_PX);
/** Moved positions: integer corners change, integer positions become sub-pixel and back. */
export const MOVED_PX = POS_PX.map((p, i) => (i % 3 === 0 ? Math.round(p) : p + 0.7 * Math.sin(5 * i)));
/** A mini-batch, out of order. */
export const SUBSET = Int32Array.from([9, 2, 5, 3, 11, 0, 7]);

/** ||a - b|| / ||b|| (||a - b|| when b is zero). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}
