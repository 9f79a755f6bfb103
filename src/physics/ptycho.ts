/**
 * Ptychography forward model and its gradient (DESIGN.md "Ptychography").
 *
 *   Q_jk = T_{f_j} P_k                 probe mode k shifted by the sub-pixel part of position j (geometry.ts)
 *   psi_jk = Q_jk . S_j O              S_j: extract the N x N window at the integer corner (iy_j, ix_j)
 *   Psi_jk = F psi_jk                  F: orthonormal centred FFT2 (fft.ts)
 *   D_j = sum_k |Psi_jk|^2 + b         b: optional constant background
 *
 * Gradients are Wirtinger derivatives dL/dz* (for real z = a + ib: dL/da + i dL/db = 2 dL/dz*):
 *   g_psi = F^H(dl/dD . Psi),   dL/dO* += S_j^T(sum_k conj(Q_jk) g_psi_jk),   dL/dP_k* += T_{-f_j}(conj(S_j O) g_psi_jk).
 *
 * Objects are H x W and probes K x N x N interleaved complex (Float32Array, or Float64Array for tests);
 * frames are N x N in the centred FFT layout (zero frequency at (N/2, N/2)), one per position of the range.
 */
import { addAbs2, type Buf } from "./complex.js";
import { fft2 } from "./fft.js";
import { subpixelShiftProbe, type ScanWindows } from "./geometry.js";
import { ptychoLoss, type PtychoNoiseModel } from "./losses.js";

/** out = S_j O: the n x n window of the object (row width `width`) whose top-left corner is (iy, ix). */
export function extractWindow(object: Buf, width: number, iy: number, ix: number, n: number, out: Buf): void {
  for (let y = 0; y < n; y++) {
    const src = 2 * ((iy + y) * width + ix);
    const dst = 2 * n * y;
    for (let i = 0; i < 2 * n; i++) out[dst + i] = object[src + i];
  }
}

/** object += S_j^T window: add the n x n window back into the object at corner (iy, ix). */
export function scatterWindow(window: Buf, n: number, iy: number, ix: number, object: Buf, width: number): void {
  for (let y = 0; y < n; y++) {
    const dst = 2 * ((iy + y) * width + ix);
    const src = 2 * n * y;
    for (let i = 0; i < 2 * n; i++) object[dst + i] += window[src + i];
  }
}

/** Probe modes K of a K x n x n complex buffer; throws if the length does not fit. */
export function probeModeCount(probe: Buf, n: number): number {
  const k = probe.length / (2 * n * n);
  if (!Number.isInteger(k) || k < 1) throw new Error(`probe: ${probe.length} floats is not K x ${n} x ${n} complex`);
  return k;
}

interface Workspace {
  window: Float64Array;
  shifted: Float64Array;
  psi: Float64Array;
  d: Float64Array;
  dldD: Float64Array;
  gWindow: Float64Array;
  gShifted: Float64Array;
}

const workspaces = new Map<string, Workspace>();

function workspace(n: number, modes: number): Workspace {
  const key = `${n}x${modes}`;
  let ws = workspaces.get(key);
  if (!ws) {
    const nn = n * n;
    ws = {
      window: new Float64Array(2 * nn),
      shifted: new Float64Array(2 * modes * nn),
      psi: new Float64Array(2 * modes * nn),
      d: new Float64Array(nn),
      dldD: new Float64Array(nn),
      gWindow: new Float64Array(2 * nn),
      gShifted: new Float64Array(2 * modes * nn),
    };
    workspaces.set(key, ws);
  }
  return ws;
}

function checkRange(win: ScanWindows, object: Buf, start: number, count: number): void {
  if (object.length !== 2 * win.height * win.width) {
    throw new Error(`object: ${object.length} floats, expected ${win.height} x ${win.width} complex`);
  }
  if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 0 && start + count <= win.count)) {
    throw new Error(`positions [${start}, ${start + count}) outside the scan's ${win.count} positions`);
  }
}

function checkGradients(object: Buf, probe: Buf, gObject: Buf, gProbe: Buf | null): void {
  if (gObject.length !== object.length) throw new Error(`object gradient: ${gObject.length} floats, object has ${object.length}`);
  if (gProbe && gProbe.length !== probe.length) throw new Error(`probe gradient: ${gProbe.length} floats, probe has ${probe.length}`);
}

/** Shifted probe for position j: the probe itself when there is no sub-pixel shift, else ws.shifted. */
function shiftedProbe(probe: Buf, win: ScanWindows, j: number, ws: Workspace): Buf {
  if (win.fy[j] === 0 && win.fx[j] === 0) return probe;
  subpixelShiftProbe(probe, win.n, win.fy[j], win.fx[j], ws.shifted);
  return ws.shifted;
}

/** Far-field waves Psi_jk into ws.psi and D_j (without background) into ws.d; returns the shifted probe used. */
function farField(object: Buf, probe: Buf, win: ScanWindows, j: number, modes: number, ws: Workspace): Buf {
  const n = win.n, nn = n * n;
  const q = shiftedProbe(probe, win, j, ws);
  extractWindow(object, win.width, win.iy[j], win.ix[j], n, ws.window);
  const { window: w, psi, d } = ws;
  d.fill(0);
  const f = fft2(n);
  for (let k = 0; k < modes; k++) {
    const o = 2 * nn * k;
    for (let i = 0; i < 2 * nn; i += 2) {
      const pr = q[o + i], pi = q[o + i + 1], wr = w[i], wi = w[i + 1];
      psi[o + i] = pr * wr - pi * wi;
      psi[o + i + 1] = pr * wi + pi * wr;
    }
    f.forward(psi, k);
    addAbs2(psi, d, nn, k * nn);
  }
  return q;
}

/** Back-propagate dl/dD (ws.dldD) through position j, accumulating into gObject and (if given) gProbe. */
function backward(
  q: Buf, win: ScanWindows, j: number, modes: number, ws: Workspace, gObject: Buf, gProbe: Buf | null,
): void {
  const n = win.n, nn = n * n;
  const { psi, dldD, window: w, gWindow, gShifted } = ws;
  const f = fft2(n);
  gWindow.fill(0);
  for (let k = 0; k < modes; k++) {
    const o = 2 * nn * k;
    for (let i = 0; i < nn; i++) {
      psi[o + 2 * i] *= dldD[i];
      psi[o + 2 * i + 1] *= dldD[i];
    }
    f.inverse(psi, k);
    for (let i = 0; i < 2 * nn; i += 2) {
      const gr = psi[o + i], gi = psi[o + i + 1];
      const pr = q[o + i], pi = q[o + i + 1];
      gWindow[i] += pr * gr + pi * gi;
      gWindow[i + 1] += pr * gi - pi * gr;
      if (gProbe) {
        const wr = w[i], wi = w[i + 1];
        gShifted[o + i] = wr * gr + wi * gi;
        gShifted[o + i + 1] = wr * gi - wi * gr;
      }
    }
  }
  scatterWindow(gWindow, n, win.iy[j], win.ix[j], gObject, win.width);
  if (gProbe) {
    if (win.fy[j] !== 0 || win.fx[j] !== 0) subpixelShiftProbe(gShifted, n, -win.fy[j], -win.fx[j], gShifted);
    for (let i = 0; i < 2 * modes * nn; i++) gProbe[i] += gShifted[i];
  }
}

/** D_j for positions [start, start + count) into out (count frames of N x N, frame i = position start + i). */
export function ptychoIntensities(
  object: Buf, probe: Buf, win: ScanWindows, start: number, count: number, out: Buf, background = 0,
): void {
  checkRange(win, object, start, count);
  const nn = win.n * win.n, modes = probeModeCount(probe, win.n);
  if (out.length < count * nn) throw new Error(`ptychoIntensities: output holds ${out.length} values, need ${count * nn}`);
  const ws = workspace(win.n, modes);
  for (let i = 0; i < count; i++) {
    farField(object, probe, win, start + i, modes, ws);
    for (let p = 0; p < nn; p++) out[i * nn + p] = ws.d[p] + background;
  }
}

/**
 * Given dl/dD for positions [start, start + count) (count frames), accumulate dL/dO* into gObject (H x W complex)
 * and, unless gProbe is null, dL/dP* into gProbe (K x N x N complex).
 */
export function ptychoGradient(
  object: Buf, probe: Buf, win: ScanWindows, start: number, count: number,
  dldD: ArrayLike<number>, gObject: Buf, gProbe: Buf | null,
): void {
  checkRange(win, object, start, count);
  const nn = win.n * win.n, modes = probeModeCount(probe, win.n);
  checkGradients(object, probe, gObject, gProbe);
  if (dldD.length < count * nn) throw new Error(`ptychoGradient: ${dldD.length} values of dl/dD, need ${count * nn}`);
  const ws = workspace(win.n, modes);
  for (let i = 0; i < count; i++) {
    const q = farField(object, probe, win, start + i, modes, ws);
    for (let p = 0; p < nn; p++) ws.dldD[p] = dldD[i * nn + p];
    backward(q, win, start + i, modes, ws, gObject, gProbe);
  }
}

/**
 * Loss of the model against measured frames (count frames for positions [start, start + count)) and its
 * gradient, accumulated into gObject / gProbe as in ptychoGradient, in one pass. Returns the summed loss.
 */
export function ptychoLossGradient(
  object: Buf, probe: Buf, win: ScanWindows, start: number, count: number,
  measured: Float32Array | Float64Array | Uint16Array | Uint32Array, model: PtychoNoiseModel,
  gObject: Buf, gProbe: Buf | null, options: { background?: number; eps?: number } = {},
): number {
  checkRange(win, object, start, count);
  const nn = win.n * win.n, modes = probeModeCount(probe, win.n);
  checkGradients(object, probe, gObject, gProbe);
  if (measured.length < count * nn) throw new Error(`ptychoLossGradient: ${measured.length} measured values, need ${count * nn}`);
  const ws = workspace(win.n, modes);
  const background = options.background ?? 0;
  let loss = 0;
  for (let i = 0; i < count; i++) {
    const q = farField(object, probe, win, start + i, modes, ws);
    if (background !== 0) for (let p = 0; p < nn; p++) ws.d[p] += background;
    loss += ptychoLoss(model, ws.d, measured.subarray(i * nn, (i + 1) * nn), ws.dldD, options.eps);
    backward(q, win, start + i, modes, ws, gObject, gProbe);
  }
  return loss;
}
