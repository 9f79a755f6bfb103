/**
 * Relative errors of reconstructions against the truth (DESIGN.md "Metrics").
 *
 * DESIGN.md's "relative error" removes the global ambiguity by a least-squares scale fit, over the illuminated
 * region (illumination.ts) only:
 *
 *   err = min_a || a x_hat - x || / || x ||,      a = <x_hat, x> / <x_hat, x_hat>     (<u, v> = sum conj(u) v)
 *
 *   - complex object (interleaved re/im): a complex, removing the global phase and scale  -> objectRelativeError
 *   - element maps (real):                a real, removing a global scale                 -> realRelativeError
 *
 * `relativeError` is the plain || x_hat - x || / || x || without any fit, for maps whose scale is meaningful
 * (quantitative element maps in physical units: a wrong scale is an error there, and this measure shows it).
 * No shift is registered: positions are known, so the reconstruction and the truth share one grid.
 *
 * Sums run in double precision over the pixels inside the mask (all pixels when it is absent). The residual is
 * summed directly (not as ||x||^2 - |<x_hat, x>|^2 / ||x_hat||^2) so tiny errors do not cancel away. When the
 * truth is zero over the mask the relative error is undefined: NaN. A zero estimate gives a = 0 and error 1.
 */
import { checkMask, type MaskLike } from "./mask.js";

export interface ComplexScale {
  re: number;
  im: number;
}

export interface ObjectError {
  /** min_a || a x_hat - x || / || x || over the mask. */
  error: number;
  /** The fitted complex factor a: a * estimate is the estimate aligned with the truth. */
  scale: ComplexScale;
}

export interface RealError {
  /** min_a || a x_hat - x || / || x || over the mask, a real. */
  error: number;
  /** The fitted real factor a. */
  scale: number;
}

function checkLengths(estimate: ArrayLike<number>, truth: ArrayLike<number>, what: string): void {
  if (estimate.length !== truth.length) {
    throw new Error(`${what}: estimate has ${estimate.length} values, truth has ${truth.length}`);
  }
}

/** Complex scale fit of an interleaved complex estimate to the truth: DESIGN.md's object error. */
export function objectRelativeError(estimate: ArrayLike<number>, truth: ArrayLike<number>, mask?: MaskLike): ObjectError {
  checkLengths(estimate, truth, "objectRelativeError");
  if (estimate.length % 2 !== 0) throw new Error(`objectRelativeError: ${estimate.length} floats is not interleaved complex`);
  const pixels = estimate.length / 2;
  checkMask(mask, pixels, "objectRelativeError");
  // <x_hat, x> = sum conj(x_hat) x, <x_hat, x_hat>
  let cr = 0, ci = 0, ee = 0;
  for (let p = 0; p < pixels; p++) {
    if (mask && !mask[p]) continue;
    const er = estimate[2 * p], ei = estimate[2 * p + 1], tr = truth[2 * p], ti = truth[2 * p + 1];
    cr += er * tr + ei * ti;
    ci += er * ti - ei * tr;
    ee += er * er + ei * ei;
  }
  const ar = ee > 0 ? cr / ee : 0, ai = ee > 0 ? ci / ee : 0;
  let rr = 0, tt = 0;
  for (let p = 0; p < pixels; p++) {
    if (mask && !mask[p]) continue;
    const er = estimate[2 * p], ei = estimate[2 * p + 1], tr = truth[2 * p], ti = truth[2 * p + 1];
    const dr = ar * er - ai * ei - tr, di = ar * ei + ai * er - ti;
    rr += dr * dr + di * di;
    tt += tr * tr + ti * ti;
  }
  return { error: tt > 0 ? Math.sqrt(rr / tt) : NaN, scale: { re: ar, im: ai } };
}

/** out = a * estimate (interleaved complex): the estimate aligned with the truth for display or comparison. */
export function alignObject(estimate: ArrayLike<number>, scale: ComplexScale, out = new Float32Array(estimate.length)): Float32Array {
  const { re, im } = scale;
  for (let i = 0; i < estimate.length; i += 2) {
    const er = estimate[i], ei = estimate[i + 1];
    out[i] = re * er - im * ei;
    out[i + 1] = re * ei + im * er;
  }
  return out;
}

/** Real scale fit of a real map to the truth: DESIGN.md's element-map error. */
export function realRelativeError(estimate: ArrayLike<number>, truth: ArrayLike<number>, mask?: MaskLike): RealError {
  checkLengths(estimate, truth, "realRelativeError");
  checkMask(mask, estimate.length, "realRelativeError");
  let c = 0, ee = 0;
  for (let i = 0; i < estimate.length; i++) {
    if (mask && !mask[i]) continue;
    c += estimate[i] * truth[i];
    ee += estimate[i] * estimate[i];
  }
  const a = ee > 0 ? c / ee : 0;
  let rr = 0, tt = 0;
  for (let i = 0; i < estimate.length; i++) {
    if (mask && !mask[i]) continue;
    const d = a * estimate[i] - truth[i];
    rr += d * d;
    tt += truth[i] * truth[i];
  }
  return { error: tt > 0 ? Math.sqrt(rr / tt) : NaN, scale: a };
}

/**
 * Plain relative error || x_hat - x || / || x || over the mask, no scale fit. Works element-wise, so it serves
 * real maps (mask of one entry per value); for an interleaved complex array pass a mask of one entry per pixel
 * and `complex: true`.
 */
export function relativeError(
  estimate: ArrayLike<number>, truth: ArrayLike<number>, mask?: MaskLike, options: { complex?: boolean } = {},
): number {
  checkLengths(estimate, truth, "relativeError");
  const stride = options.complex ? 2 : 1;
  if (estimate.length % stride !== 0) throw new Error(`relativeError: ${estimate.length} floats is not interleaved complex`);
  checkMask(mask, estimate.length / stride, "relativeError");
  let rr = 0, tt = 0;
  for (let i = 0; i < estimate.length; i++) {
    if (mask && !mask[stride === 2 ? i >> 1 : i]) continue;
    const d = estimate[i] - truth[i];
    rr += d * d;
    tt += truth[i] * truth[i];
  }
  return tt > 0 ? Math.sqrt(rr / tt) : NaN;
}
