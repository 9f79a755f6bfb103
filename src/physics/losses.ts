/**
 * Data-fidelity losses with their derivatives with respect to the model (DESIGN.md noise-model table).
 * Each returns the summed loss (double precision) and, if `grad` is given, writes dl/d(model) into it.
 * Losses are offset so that a perfect fit scores 0 (useful for log-log loss histories); the offsets do not
 * change the gradients.
 *
 * Ptychography, model D (>= 0), measured counts I:
 *   gaussian (amplitude): (sqrt(D + eps) - sqrt I)^2,              dl/dD = 1 - sqrt(I / (D + eps))
 *   poisson:  D + eps - I - I log((D + eps) / I)  (I log I := 0),  dl/dD = 1 - I / (D + eps)
 *   weighted: (D - I)^2 / (2 I) where I > 0, D where I = 0,         dl/dD = (D - I) / I, or 1 where I = 0
 * XRF, model X, measured M:
 *   lsq:      (X - M)^2,                                            dl/dX = 2 (X - M)
 *   poisson:  X + eps - M - M log((X + eps) / M),                   dl/dX = 1 - M / (X + eps)
 * eps (default 1e-6, in counts) guards the divisions; the guarded losses are differentiated exactly.
 * Negative measured values (Gaussian noise on real data) count as 0 in the poisson and gaussian losses.
 */
import type { Buf } from "./complex.js";

export type PtychoNoiseModel = "gaussian" | "poisson" | "weighted";
export type XrfNoiseModel = "lsq" | "poisson";

export const DEFAULT_EPS = 1e-6;

function checkLengths(what: string, model: ArrayLike<number>, measured: ArrayLike<number>, grad: Buf | null): void {
  if (measured.length !== model.length || (grad && grad.length < model.length)) {
    throw new Error(`${what}: model has ${model.length} values, measured ${measured.length}, gradient ${grad?.length}`);
  }
}

function poisson(model: ArrayLike<number>, measured: ArrayLike<number>, grad: Buf | null, eps: number): number {
  let loss = 0;
  for (let i = 0; i < model.length; i++) {
    const m = model[i] + eps, c = Math.max(measured[i], 0);
    loss += c > 0 ? m - c - c * Math.log(m / c) : m;
    if (grad) grad[i] = 1 - c / m;
  }
  return loss;
}

export function ptychoLoss(
  model: PtychoNoiseModel, D: ArrayLike<number>, I: ArrayLike<number>, grad: Buf | null, eps = DEFAULT_EPS,
): number {
  checkLengths(`ptychography ${model} loss`, D, I, grad);
  let loss = 0;
  switch (model) {
    case "gaussian":
      for (let i = 0; i < D.length; i++) {
        const d = D[i] + eps, a = Math.sqrt(Math.max(I[i], 0));
        const r = Math.sqrt(d) - a;
        loss += r * r;
        if (grad) grad[i] = 1 - a / Math.sqrt(d);
      }
      return loss;
    case "poisson":
      return poisson(D, I, grad, eps);
    case "weighted":
      for (let i = 0; i < D.length; i++) {
        const d = D[i], c = I[i];
        if (c > 0) {
          loss += ((d - c) * (d - c)) / (2 * c);
          if (grad) grad[i] = (d - c) / c;
        } else {
          loss += d;
          if (grad) grad[i] = 1;
        }
      }
      return loss;
    default:
      throw new Error(`unknown ptychography noise model "${model as string}" (gaussian, poisson, weighted)`);
  }
}

export function xrfLoss(
  model: XrfNoiseModel, X: ArrayLike<number>, M: ArrayLike<number>, grad: Buf | null, eps = DEFAULT_EPS,
): number {
  checkLengths(`XRF ${model} loss`, X, M, grad);
  switch (model) {
    case "lsq": {
      let loss = 0;
      for (let i = 0; i < X.length; i++) {
        const r = X[i] - M[i];
        loss += r * r;
        if (grad) grad[i] = 2 * r;
      }
      return loss;
    }
    case "poisson":
      return poisson(X, M, grad, eps);
    default:
      throw new Error(`unknown XRF noise model "${model as string}" (lsq, poisson)`);
  }
}
