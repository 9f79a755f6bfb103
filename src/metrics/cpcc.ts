/**
 * Complex Pearson correlation coefficient, as defined by Wu et al., "Dose-efficient automatic differentiation
 * for ptychographic reconstruction" (Optica 11, 2024), Appendix A, eq. (A1):
 *
 *                        sum_s (x1_s - mean(x1)) (x2_s^* - mean(x2^*))
 *   cPCC(x1, x2) = ------------------------------------------------------------------
 *                  sqrt( sum_s |x1_s - mean(x1)|^2  *  sum_s |x2_s^* - mean(x2^*)|^2 )
 *
 * "x1 and x2 are the complex images being analyzed. S is the corresponding pixel number. The magnitude of cPCC
 * describes the strength of the linear similarity between the two input images, and its phase angle describes
 * the average correlation direction difference of the two images."
 *
 * Reading of the denominator: the paper typesets it as sum (x1_s - mean)^2 and sum (x2_s^* - mean)^2. Taken as
 * complex squares that is not a correlation (for x2 = x1 it gives sum |d|^2 / |sum d^2| >= 1, with equality only
 * when all deviations share one phase, and |cPCC| is unbounded), contradicting the paper's own description of
 * the magnitude as a strength of similarity. The squares are the squared moduli of the (complex) deviations, as
 * in every complex Pearson coefficient; with them Cauchy-Schwarz gives |cPCC| <= 1, with equality exactly when
 * x2 = a x1 + b for some complex a != 0 and b.
 *
 * Properties: cPCC(x1, a x1 + b) = conj(a) / |a| (magnitude 1, phase -arg a: the reconstruction's global phase
 * and scale, and any constant offset, are not penalised); cPCC(x2, x1) = conj(cPCC(x1, x2)) (the magnitude is
 * symmetric, the phase flips sign). Sums run over the pixels inside the mask (S = their number; all pixels when
 * there is no mask), in double precision; NaN when either image is constant over the mask.
 * By convention x1 is the reconstruction and x2 the truth.
 */
import { checkMask, type MaskLike } from "./mask.js";

export interface Cpcc {
  re: number;
  im: number;
  /** |cPCC| in [0, 1]: 1 for a perfect reconstruction up to a global complex factor and offset. */
  abs: number;
  /** arg cPCC in (-pi, pi]. */
  phase: number;
}

/** cPCC (eq. A1) of two interleaved complex images of equal size, over the mask. */
export function cpcc(x1: ArrayLike<number>, x2: ArrayLike<number>, mask?: MaskLike): Cpcc {
  if (x1.length !== x2.length) throw new Error(`cpcc: images of ${x1.length} and ${x2.length} floats`);
  if (x1.length % 2 !== 0) throw new Error(`cpcc: ${x1.length} floats is not interleaved complex`);
  const pixels = x1.length / 2;
  checkMask(mask, pixels, "cpcc");
  let s = 0, m1r = 0, m1i = 0, m2r = 0, m2i = 0;
  for (let p = 0; p < pixels; p++) {
    if (mask && !mask[p]) continue;
    s++;
    m1r += x1[2 * p]; m1i += x1[2 * p + 1];
    m2r += x2[2 * p]; m2i += x2[2 * p + 1];
  }
  if (s === 0) return { re: NaN, im: NaN, abs: NaN, phase: NaN };
  m1r /= s; m1i /= s; m2r /= s; m2i /= s;
  let nr = 0, ni = 0, v1 = 0, v2 = 0;
  for (let p = 0; p < pixels; p++) {
    if (mask && !mask[p]) continue;
    const ar = x1[2 * p] - m1r, ai = x1[2 * p + 1] - m1i;
    const br = x2[2 * p] - m2r, bi = x2[2 * p + 1] - m2i;
    // (a) (b)^*  with b = x2 - mean(x2), so b^* = x2^* - mean(x2^*)
    nr += ar * br + ai * bi;
    ni += ai * br - ar * bi;
    v1 += ar * ar + ai * ai;
    v2 += br * br + bi * bi;
  }
  const den = Math.sqrt(v1 * v2);
  if (!(den > 0)) return { re: NaN, im: NaN, abs: NaN, phase: NaN };
  const re = nr / den, im = ni / den;
  return { re, im, abs: Math.hypot(re, im), phase: Math.atan2(im, re) };
}
