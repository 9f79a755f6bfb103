/**
 * Gradient of the ptychography loss with respect to the scan positions (position refinement), float64
 * reference. Model as in ptycho.ts: psi_jk = Q_jk . S_j O with Q_jk = T_{f_j} P_k, the probe shifted by the
 * fractional part f_j of the window corner c_j = round(c_j) + f_j (geometry.ts).
 *
 * The integer part of a corner is piecewise constant, so the derivative with respect to the continuous corner
 * is the derivative with respect to the fraction. With T_f = F^H diag(exp(-2 pi i kappa . f / N)) F
 * (kappa = k - N/2, the centred frequency of index k),
 *
 *   dQ/df_y = F^H diag(-2 pi i kappa_y / N) F Q        (likewise x)
 *
 * and for a real loss, with g_Q = dL/dQ* = conj(S_j O) . g_psi (g_psi = dL/dpsi* = F^H(dl/dD . Psi)),
 *
 *   dL/df_y = 2 Re sum_k <g_Q_k, dQ_k/df_y> = 2 Re sum_kappa conj(F g_Q)(kappa) (-2 pi i kappa_y / N) (F Q)(kappa)
 *           = (4 pi / N) sum_k sum_kappa kappa_y Im( conj(F g_Q_k) . F Q_k )
 *
 * (Parseval; F is unitary). The formula holds at f = 0 too (integer positions: Q = P). Units: loss per object
 * pixel of corner displacement; positive means the loss grows when the window moves towards larger indices.
 * Since corner = p / dx + (H - N) / 2, dL/dp (metres) = dL/dcorner / dx.
 */
import type { Buf } from "./complex.js";
import { fft2 } from "./fft.js";
import { subpixelShiftProbe, type ScanWindows } from "./geometry.js";
import { ptychoLoss, type PtychoNoiseModel } from "./losses.js";
import { extractWindow, probeModeCount } from "./ptycho.js";

interface Scratch {
  q: Float64Array;
  fq: Float64Array;
  window: Float64Array;
  psi: Float64Array;
  d: Float64Array;
  dldD: Float64Array;
  w: Float64Array;
}

const scratches = new Map<string, Scratch>();

function scratch(n: number, modes: number): Scratch {
  const key = `${n}x${modes}`;
  let s = scratches.get(key);
  if (!s) {
    const nn = n * n;
    s = {
      q: new Float64Array(2 * modes * nn),
      fq: new Float64Array(2 * modes * nn),
      window: new Float64Array(2 * nn),
      psi: new Float64Array(2 * modes * nn),
      d: new Float64Array(nn),
      dldD: new Float64Array(nn),
      w: new Float64Array(2 * nn),
    };
    scratches.set(key, s);
  }
  return s;
}

/**
 * Loss of positions [start, start + count) against `measured` (count frames) and dL/d(corner_y, corner_x) of
 * each, ADDED to gPositions[2 j], gPositions[2 j + 1] (gPositions holds 2 * win.count values). Returns the
 * summed loss (the same value as ptychoLossGradient).
 */
export function ptychoPositionGradient(
  object: Buf, probe: Buf, win: ScanWindows, start: number, count: number,
  measured: Float32Array | Float64Array | Uint16Array | Uint32Array, model: PtychoNoiseModel,
  gPositions: Buf, options: { background?: number; eps?: number } = {},
): number {
  const n = win.n, nn = n * n, modes = probeModeCount(probe, n);
  if (object.length !== 2 * win.height * win.width) {
    throw new Error(`object: ${object.length} floats, expected ${win.height} x ${win.width} complex`);
  }
  if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 0 && start + count <= win.count)) {
    throw new Error(`positions [${start}, ${start + count}) outside the scan's ${win.count} positions`);
  }
  if (gPositions.length < 2 * win.count) throw new Error(`position gradient: ${gPositions.length} values, need ${2 * win.count}`);
  if (measured.length < count * nn) throw new Error(`ptychoPositionGradient: ${measured.length} measured values, need ${count * nn}`);
  const s = scratch(n, modes);
  const f = fft2(n);
  const background = options.background ?? 0;
  const c = (4 * Math.PI) / n;
  let loss = 0;
  for (let i = 0; i < count; i++) {
    const j = start + i;
    if (win.fy[j] === 0 && win.fx[j] === 0) s.q.set(probe);
    else subpixelShiftProbe(probe, n, win.fy[j], win.fx[j], s.q);
    extractWindow(object, win.width, win.iy[j], win.ix[j], n, s.window);
    const { q, fq, window: o, psi, d, dldD, w } = s;
    d.fill(0);
    for (let k = 0; k < modes; k++) {
      const off = 2 * nn * k;
      for (let p = 0; p < 2 * nn; p += 2) {
        const qr = q[off + p], qi = q[off + p + 1], or = o[p], oi = o[p + 1];
        psi[off + p] = qr * or - qi * oi;
        psi[off + p + 1] = qr * oi + qi * or;
      }
      f.forward(psi, k);
      for (let p = 0; p < nn; p++) d[p] += psi[off + 2 * p] ** 2 + psi[off + 2 * p + 1] ** 2;
    }
    if (background !== 0) for (let p = 0; p < nn; p++) d[p] += background;
    loss += ptychoLoss(model, d, measured.subarray(i * nn, (i + 1) * nn), dldD, options.eps);
    fq.set(q);
    let gy = 0, gx = 0;
    for (let k = 0; k < modes; k++) {
      const off = 2 * nn * k;
      for (let p = 0; p < nn; p++) {
        psi[off + 2 * p] *= dldD[p];
        psi[off + 2 * p + 1] *= dldD[p];
      }
      f.inverse(psi, k); // g_psi
      for (let p = 0; p < 2 * nn; p += 2) {
        // w = conj(S_j O) . g_psi = dL/dQ*
        const gr = psi[off + p], gi = psi[off + p + 1], or = o[p], oi = o[p + 1];
        w[p] = or * gr + oi * gi;
        w[p + 1] = or * gi - oi * gr;
      }
      f.forward(w, 0);
      f.forward(fq, k);
      for (let ky = 0; ky < n; ky++) {
        const kappaY = ky - n / 2;
        for (let kx = 0; kx < n; kx++) {
          const p = 2 * (ky * n + kx);
          const im = w[p] * fq[off + p + 1] - w[p + 1] * fq[off + p]; // Im(conj(F g_Q) . F Q)
          gy += kappaY * im;
          gx += (kx - n / 2) * im;
        }
      }
    }
    gPositions[2 * j] += c * gy;
    gPositions[2 * j + 1] += c * gx;
  }
  return loss;
}
