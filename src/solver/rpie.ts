/**
 * rPIE (Maiden, Johnson & Li, "Further improvements to the ptychographical iterative engine", Optica 4, 736
 * (2017)): the regularised ptychographical iterative engine, a ptychography-only baseline. Float64 on the
 * src/physics operators (extractWindow, scatterWindow, the centred orthonormal FFT, subpixelShiftProbe), one
 * thread.
 *
 * Each iteration visits every position once, in a seeded random order. At position j, with Q_k = T_{f_j} P_k
 * (the probe modes shifted by the sub-pixel part of the position) and O_j = S_j O the object window:
 *
 *   psi_k = Q_k . O_j,   Psi_k = F psi_k,   D = sum_k |Psi_k|^2
 *   Psi'_k = Psi_k sqrt(I_j / D)                       (mixed-state modulus constraint; K = 1: the measured
 *                                                        amplitude with the model's phase; 0 where D = 0)
 *   dpsi_k = F^H Psi'_k - psi_k
 *   O_j += sum_k conj(Q_k) dpsi_k / ((1 - alpha) |Q|^2 + alpha max |Q|^2),     |Q|^2 = sum_k |Q_k|^2
 *   P_k += T_{-f_j}[ conj(O_j) dpsi_k / ((1 - beta) |O_j|^2 + beta max |O_j|^2) ]   (probe refinement, from
 *                                                        iteration refineAfter; both updates use the old O_j, Q)
 *
 * alpha = 1 is ePIE with unit step; small alpha approaches the Wiener-like full step. Defaults: alpha 0.1
 * (Maiden et al. report 0.05-0.25 working well), beta 1 (an ePIE-like probe step: cautious where the object
 * window is weak; see the report in rpie's tests for the alternatives).
 *
 * Starting point: the solver's ptycho mode (init.ts, reconstruct.ts): the probe from /ptychography/probe_guess
 * (probeInit "auto" or "file") or from the mean diffraction pattern, the object a constant of the amplitude
 * the counts imply; `initial` overrides either (e.g. autocorrelationInit's).
 *
 * History: after every iteration, the Gaussian amplitude loss sum (sqrt D - sqrt I)^2 of the current state over
 * all positions (one extra forward pass), divided by the total counts as the solver normalises its terms.
 */
import { fft2 } from "../physics/fft.js";
import { subpixelShiftProbe } from "../physics/geometry.js";
import { ptychoLoss } from "../physics/losses.js";
import { extractWindow, ptychoIntensities, scatterWindow } from "../physics/ptycho.js";
import { History, type HistoryRecord } from "../metrics/history.js";
import { Rng } from "../sim/rng.js";
import { meanPattern, objectAmplitude, probeFromMeanPattern } from "./init.js";
import { scanGeometry, type Geometry, type LoadedScan } from "./problem.js";
import type { ReconstructionState } from "./reconstruct.js";

export interface RpieOptions {
  iterations: number;
  /** Object regularisation (default 0.1). */
  alpha?: number;
  /** Probe regularisation (default 1). */
  beta?: number;
  /** Update the probe (default true). */
  probeRefine?: boolean;
  /** First iteration (0-based) with probe updates (default 0). */
  refineAfter?: number;
  /** Seed of the position order (default 1). */
  seed?: number;
  /** Force the object grid (e.g. the truth's). */
  grid?: { height: number; width: number };
  /** Sub-pixel probe shifts (default true). */
  subpixel?: boolean;
  /** "auto" (default): the scan's probe guess when present, else the mean pattern. */
  probeInit?: "auto" | "file" | "mean-diffraction";
  /** Starting values (complex object H x W, probe K x N x N) instead of the computed ones. */
  initial?: { object?: Float32Array; probe?: Float32Array };
  /** Called after every iteration with its record (before it is stored) and the current state (read only). */
  onIteration?: (record: HistoryRecord, state: ReconstructionState, geometry: Geometry) => void | Promise<void>;
}

export interface RpieResult {
  /** Complex object H x W. */
  object: Float32Array;
  /** Complex probe modes K x N x N. */
  probe: Float32Array;
  modes: number;
  history: History;
  geometry: Geometry;
  wall_s: number;
}

function initialProbe(scan: LoadedScan, init: RpieOptions["probeInit"], mean: Float64Array): Float32Array {
  const h = scan.header, guess = h.probeGuess;
  if (init === "file" && !guess) throw new Error("rPIE: probeInit is \"file\" but the scan has no /ptychography/probe_guess");
  if (guess && init !== "mean-diffraction") {
    if (guess.n !== h.frameSize) throw new Error(`rPIE: the probe guess is ${guess.n} x ${guess.n}, the frames ${h.frameSize} x ${h.frameSize}`);
    return Float32Array.from(guess.data);
  }
  return probeFromMeanPattern(mean, h.frameSize, 1);
}

/** Gaussian amplitude loss of the whole scan for a float64 object and probe (one forward pass). */
function amplitudeLoss(scan: LoadedScan, geometry: Geometry, object: Float64Array, probe: Float64Array, d: Float64Array): number {
  const w = geometry.windows, nn = w.n * w.n;
  let loss = 0;
  for (let j = 0; j < w.count; j++) {
    ptychoIntensities(object, probe, w, j, 1, d);
    loss += ptychoLoss("gaussian", d, scan.diffraction.subarray(j * nn, (j + 1) * nn), null);
  }
  return loss;
}

export async function runRpie(scan: LoadedScan, options: RpieOptions): Promise<RpieResult> {
  const iterations = options.iterations;
  const alpha = options.alpha ?? 0.1, beta = options.beta ?? 1;
  const refine = options.probeRefine ?? true, refineAfter = options.refineAfter ?? 0;
  if (!(Number.isInteger(iterations) && iterations >= 0)) throw new Error(`rPIE: iterations must be an integer >= 0, got ${iterations}`);
  if (!(alpha >= 0 && alpha <= 1) || !(beta >= 0 && beta <= 1)) throw new Error(`rPIE: alpha and beta must lie in [0, 1], got ${alpha}, ${beta}`);
  const h = scan.header, n = h.frameSize, nn = n * n;
  const geometry = scanGeometry(h, options.subpixel ?? true, options.grid);
  const win = geometry.windows, H = geometry.height, W = geometry.width, npos = win.count;
  const mean = meanPattern(scan.diffraction, h.npos, n);
  const probe0 = options.initial?.probe ?? initialProbe(scan, options.probeInit ?? "auto", mean);
  if (probe0.length % (2 * nn) !== 0) throw new Error(`rPIE: initial probe of ${probe0.length} floats is not K x ${n} x ${n} complex`);
  const K = probe0.length / (2 * nn);
  const probe = Float64Array.from(probe0);
  const object = new Float64Array(2 * H * W);
  if (options.initial?.object) {
    if (options.initial.object.length !== object.length) throw new Error(`rPIE: initial object has ${options.initial.object.length} floats, expected ${object.length}`);
    object.set(options.initial.object);
  } else {
    const a = objectAmplitude(mean, probe0);
    for (let p = 0; p < H * W; p++) object[2 * p] = a;
  }
  let total = 0;
  for (let i = 0; i < scan.diffraction.length; i++) total += Math.max(0, scan.diffraction[i]);
  const scale = Math.max(1e-30, total);

  const f = fft2(n);
  const q = new Float64Array(2 * K * nn), ow = new Float64Array(2 * nn), psi = new Float64Array(2 * K * nn);
  const dpsi = new Float64Array(2 * K * nn), d = new Float64Array(nn), amp = new Float64Array(nn);
  const dO = new Float64Array(2 * nn), dQ = new Float64Array(2 * K * nn), q2 = new Float64Array(nn);
  const order = Int32Array.from({ length: npos }, (_, j) => j);
  const rng = new Rng(options.seed ?? 1, 0x7e1e);
  const history = new History({ mode: "rpie", alpha, beta });
  const t0 = performance.now();
  const state: ReconstructionState = { object: new Float32Array(object.length), probe: new Float32Array(probe.length), maps: null, free: null };

  for (let it = 0; it < iterations; it++) {
    const updateProbe = refine && it >= refineAfter;
    for (let i = npos - 1; i > 0; i--) {
      const k = Math.floor(rng.uniform() * (i + 1));
      const t = order[i];
      order[i] = order[k];
      order[k] = t;
    }
    for (const j of order) {
      const fy = win.fy[j], fx = win.fx[j], sub = fy !== 0 || fx !== 0;
      if (sub) subpixelShiftProbe(probe, n, fy, fx, q);
      else q.set(probe);
      extractWindow(object, W, win.iy[j], win.ix[j], n, ow);
      d.fill(0);
      q2.fill(0);
      for (let k = 0; k < K; k++) {
        const o = 2 * nn * k;
        for (let p = 0; p < nn; p++) {
          const qr = q[o + 2 * p], qi = q[o + 2 * p + 1], wr = ow[2 * p], wi = ow[2 * p + 1];
          psi[o + 2 * p] = qr * wr - qi * wi;
          psi[o + 2 * p + 1] = qr * wi + qi * wr;
          q2[p] += qr * qr + qi * qi;
        }
        dpsi.set(psi.subarray(o, o + 2 * nn), o);
        f.forward(dpsi, k);
        for (let p = 0; p < nn; p++) d[p] += dpsi[o + 2 * p] ** 2 + dpsi[o + 2 * p + 1] ** 2;
      }
      // F^H (Psi' - Psi) = F^H ((sqrt(I / D) - 1) Psi): one inverse FFT per mode
      const meas = scan.diffraction, mo = j * nn;
      for (let p = 0; p < nn; p++) {
        const c = Math.max(0, meas[mo + p]);
        amp[p] = d[p] > 0 ? Math.sqrt(c / d[p]) - 1 : 0;
      }
      let maxQ2 = 0, maxO2 = 0;
      for (let p = 0; p < nn; p++) {
        maxQ2 = Math.max(maxQ2, q2[p]);
        maxO2 = Math.max(maxO2, ow[2 * p] ** 2 + ow[2 * p + 1] ** 2);
      }
      dO.fill(0);
      for (let k = 0; k < K; k++) {
        const o = 2 * nn * k;
        for (let p = 0; p < nn; p++) {
          dpsi[o + 2 * p] *= amp[p];
          dpsi[o + 2 * p + 1] *= amp[p];
        }
        f.inverse(dpsi, k);
        for (let p = 0; p < nn; p++) {
          const qr = q[o + 2 * p], qi = q[o + 2 * p + 1], gr = dpsi[o + 2 * p], gi = dpsi[o + 2 * p + 1];
          dO[2 * p] += qr * gr + qi * gi;
          dO[2 * p + 1] += qr * gi - qi * gr;
        }
      }
      for (let p = 0; p < nn; p++) {
        const den = (1 - alpha) * q2[p] + alpha * maxQ2;
        const s = den > 0 ? 1 / den : 0;
        dO[2 * p] *= s;
        dO[2 * p + 1] *= s;
      }
      if (updateProbe) {
        for (let k = 0; k < K; k++) {
          const o = 2 * nn * k;
          for (let p = 0; p < nn; p++) {
            const wr = ow[2 * p], wi = ow[2 * p + 1], den = (1 - beta) * (wr * wr + wi * wi) + beta * maxO2;
            const s = den > 0 ? 1 / den : 0, gr = dpsi[o + 2 * p], gi = dpsi[o + 2 * p + 1];
            dQ[o + 2 * p] = s * (wr * gr + wi * gi);
            dQ[o + 2 * p + 1] = s * (wr * gi - wi * gr);
          }
        }
        if (sub) subpixelShiftProbe(dQ, n, -fy, -fx, dQ);
        for (let i = 0; i < probe.length; i++) probe[i] += dQ[i];
      }
      scatterWindow(dO, n, win.iy[j], win.ix[j], object, W);
    }
    const loss = amplitudeLoss(scan, geometry, object, probe, d) / scale;
    const record: HistoryRecord = {
      iteration: it + 1,
      time_s: (performance.now() - t0) / 1000,
      losses: { ptycho: loss, total: loss },
      weights: { ptycho: 1 },
      steps: updateProbe ? { alpha, beta } : { alpha },
    };
    if (options.onIteration) {
      state.object.set(object);
      state.probe.set(probe);
      await options.onIteration(record, state, geometry);
    }
    history.append(record);
  }
  return {
    object: Float32Array.from(object), probe: Float32Array.from(probe), modes: K, history, geometry,
    wall_s: (performance.now() - t0) / 1000,
  };
}
