/**
 * Adaptive total variation (DAP, eq. 6) of an H x W image, complex (interleaved re/im) or real:
 *
 *   ATV(O) = 1/(H W) sum_{y,x} ( |dx O(y,x)|^p + |dy O(y,x)|^p + eps )^(q/p)
 *
 * with forward differences and a Neumann (replicate) boundary:
 *   dx O(y,x) = O(y,x+1) - O(y,x) for x < W-1, and 0 on the last column;
 *   dy O(y,x) = O(y+1,x) - O(y,x) for y < H-1, and 0 on the last row;
 * so the image is not treated as periodic (no penalty on the jump between opposite edges), every pixel counts in
 * the mean, and a constant image scores exactly eps^(q/p) (`atvFloor`). |.| is the complex modulus (both real and
 * imaginary parts of the difference), or the absolute value for real maps. (p, q) = (2, 1) is DAP's choice (the
 * isotropic L2 TV, smooth everywhere thanks to eps); (1, 1) is the anisotropic L1 TV. eps is in the units of
 * |difference|^p: scale it with the image (default 1e-8, i.e. differences of 1e-4 for p = 2).
 *
 * Gradient, per pixel with s = |a|^p + |b|^p (a = dx O, b = dy O) and c(z) = q (s + eps)^(q/p - 1) |z|^(p-2) / (H W):
 *   real gradient wrt the difference z: c(z) z (for p < 2 and z = 0 exactly, c is taken as 0: a subgradient);
 *   pushed through the differences: O(y,x+1) += c(a) a, O(y,x) -= c(a) a, O(y+1,x) += c(b) b, O(y,x) -= c(b) b.
 * For complex images `atv` returns the Wirtinger gradient dATV/dO* (half the real gradient d/dRe + i d/dIm, the
 * convention of the engines); for real maps the ordinary derivative dATV/dm.
 *
 * `adaptiveGamma` implements DAP's dynamic weight: gamma such that gamma * ATV = ratio * data loss.
 */
import type { Buf } from "../physics/complex.js";

export interface AtvSpec {
  /** Inner exponent p > 0 (default 2). */
  p: number;
  /** Outer exponent q > 0 (default 1); the penalty per pixel is (|dx|^p + |dy|^p + eps)^(q/p). */
  q: number;
  /** eps > 0 (default 1e-8), in units of |difference|^p. */
  eps: number;
}

export const DEFAULT_ATV: AtvSpec = { p: 2, q: 1, eps: 1e-8 };

export interface AtvOptions extends Partial<AtvSpec> {
  /** "complex": interleaved re/im (2 H W values); "real": H W values. */
  kind: "complex" | "real";
}

function resolve(o: Partial<AtvSpec>): AtvSpec {
  const s = { p: o.p ?? DEFAULT_ATV.p, q: o.q ?? DEFAULT_ATV.q, eps: o.eps ?? DEFAULT_ATV.eps };
  if (!(s.p > 0 && Number.isFinite(s.p))) throw new Error(`ATV: p must be > 0, got ${s.p}`);
  if (!(s.q > 0 && Number.isFinite(s.q))) throw new Error(`ATV: q must be > 0, got ${s.q}`);
  if (!(s.eps > 0 && Number.isFinite(s.eps))) throw new Error(`ATV: eps must be > 0, got ${s.eps}`);
  return s;
}

/** ATV of a constant image: eps^(q/p). */
export function atvFloor(spec: Partial<AtvSpec> = {}): number {
  const s = resolve(spec);
  return Math.pow(s.eps, s.q / s.p);
}

/** |z|^p from |z|^2. */
function powAbs(z2: number, p: number): number {
  return p === 2 ? z2 : p === 1 ? Math.sqrt(z2) : Math.pow(z2, p / 2);
}

/** |z|^(p-2) from |z|^2 > 0 (callers take the coefficient as 0 where z = 0). */
function powAbsM2(z2: number, p: number): number {
  if (p === 2) return 1;
  return p === 1 ? 1 / Math.sqrt(z2) : Math.pow(z2, p / 2 - 1);
}

/** (s + eps)^e for the outer power (fast paths for DAP's (2, 1): e = q/p = 1/2 and e - 1 = -1/2). */
function powOuter(v: number, e: number): number {
  return e === 1 ? v : e === 0.5 ? Math.sqrt(v) : e === -0.5 ? 1 / Math.sqrt(v) : e === 0 ? 1 : Math.pow(v, e);
}

/**
 * ATV of `image` (H x W, complex interleaved or real per `options.kind`). When `grad` is given, adds
 * `gradWeight` x the gradient into it (complex: dATV/dO*, Wirtinger; real: dATV/dm): pass a zeroed buffer for
 * the gradient alone, or the data term's gradient with gradWeight = gamma to add the regulariser.
 */
export function atv(image: ArrayLike<number>, height: number, width: number, options: AtvOptions, grad?: Buf | null, gradWeight = 1): number {
  const { p, q, eps } = resolve(options);
  const complex = options.kind === "complex";
  if (!complex && options.kind !== "real") throw new Error(`ATV: kind must be complex or real, got ${String(options.kind)}`);
  const c = complex ? 2 : 1;
  const pixels = height * width;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height >= 1 && width >= 1)) throw new Error(`ATV: bad image size ${height} x ${width}`);
  if (image.length !== c * pixels) throw new Error(`ATV: ${image.length} values is not a ${height} x ${width} ${options.kind} image`);
  if (grad && grad.length !== c * pixels) throw new Error(`ATV: gradient of ${grad.length} values for a ${height} x ${width} ${options.kind} image`);
  const e = q / p;
  const inv = 1 / pixels;
  // complex: Wirtinger = half the real gradient
  const gw = (complex ? 0.5 : 1) * gradWeight * q * inv;
  let total = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const o = c * i;
      let ar = 0, ai = 0, br = 0, bi = 0;
      if (x < width - 1) {
        ar = image[o + c] - image[o];
        if (complex) ai = image[o + 3] - image[o + 1];
      }
      if (y < height - 1) {
        const d = o + c * width;
        br = image[d] - image[o];
        if (complex) bi = image[d + 1] - image[o + 1];
      }
      const a2 = ar * ar + ai * ai, b2 = br * br + bi * bi;
      const s = powAbs(a2, p) + powAbs(b2, p) + eps;
      total += powOuter(s, e);
      if (!grad) continue;
      const outer = gw * powOuter(s, e - 1);
      const ca = a2 > 0 ? outer * powAbsM2(a2, p) : 0;
      const cb = b2 > 0 ? outer * powAbsM2(b2, p) : 0;
      if (ca !== 0) {
        grad[o + c] += ca * ar;
        grad[o] -= ca * ar;
        if (complex) {
          grad[o + 3] += ca * ai;
          grad[o + 1] -= ca * ai;
        }
      }
      if (cb !== 0) {
        const d = o + c * width;
        grad[d] += cb * br;
        grad[o] -= cb * br;
        if (complex) {
          grad[d + 1] += cb * bi;
          grad[o + 1] -= cb * bi;
        }
      }
    }
  }
  return total * inv;
}

export interface GammaOptions {
  /**
   * ATV values at or below this give gamma = 0 (default: 0). A (nearly) constant image, e.g. a flat starting
   * object, has ATV ~ atvFloor(spec) and would otherwise get an enormous gamma: pass a floor of a few
   * atvFloor(spec), or compute gamma from the excess atv - atvFloor(spec).
   */
  floor?: number;
  /** Upper bound on gamma (default Infinity). */
  max?: number;
}

/**
 * DAP's dynamic regularisation weight: gamma = ratio * dataLoss / atvValue, so that gamma * ATV = ratio *
 * dataLoss (recompute it every iteration from the current values; the gradient then uses gamma as a constant).
 * Returns 0 when atvValue <= floor, dataLoss <= 0 or ratio <= 0, and never more than `max`.
 */
export function adaptiveGamma(dataLoss: number, atvValue: number, ratio: number, options: GammaOptions = {}): number {
  const floor = options.floor ?? 0, max = options.max ?? Infinity;
  if (!(ratio >= 0 && Number.isFinite(ratio))) throw new Error(`adaptiveGamma: ratio must be a finite number >= 0, got ${ratio}`);
  if (!(atvValue > floor) || !(dataLoss > 0) || ratio === 0 || !Number.isFinite(dataLoss) || !Number.isFinite(atvValue)) return 0;
  return Math.min(max, (ratio * dataLoss) / atvValue);
}
