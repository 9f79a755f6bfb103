/**
 * Autocorrelation initialisation of the object and probe (the DAP paper, Optica / seed 002, section 2A).
 *
 * The inverse Fourier transform of a far-field intensity is the autocorrelation of the exit wave, so the
 * patterns themselves give a rough picture of where the sample scatters or absorbs more or less than average.
 * With I_i the measured pattern of position i (npos positions; the paper's N), F the centred orthonormal FFT:
 *
 *   phi_i = |F^-1 I_i|,   Phi = |F^-1 ((1/npos) sum_i I_i)|                       (N x N, centred)
 *   R(r)  = sum_i phi_i(r - r_i) / sum_i Phi(r - r_i)                             (each frame placed at its window)
 *   A     = g (x) R                                                               (g: Gaussian of `sigma` pixels)
 *   O     = beta1 [ A exp(beta2 A) + xi1 ]
 *   P     = zeta / npos [ sum_i |F^-1 sqrt(I_i)| + xi2 ]
 *   zeta  = argmin_zeta sum_i sum_q (sqrt(I_i) - sqrt(D_i,init))^2 = sum sqrt(I D1) / sum D1
 *
 * where D1 is the model intensity (ptycho.ts forward model, same windows and sub-pixel shifts) of O and the
 * probe with zeta = 1; D scales with zeta^2, so sqrt(D) = zeta sqrt(D1) and the least squares is closed form.
 *
 * Interpretations (the paper leaves these open):
 *   - frames are placed at their integer window corners (round(corner)); sub-pixel parts are ignored in R;
 *   - pixels no window covers get R = 1 (neutral) before smoothing; the smoothing is a normalised Gaussian
 *     convolution (weights renormalised at the object's edges);
 *   - beta2 is complex (default 0: a real, positive object A; beta2 = i b puts a phase b A on it);
 *   - beta1 normalises the mean |A exp(beta2 A)| over the scanned pixels to 1 (the probe scale is then
 *     carried by zeta);
 *   - xi1, xi2: seeded Gaussian noise, real, with standard deviation `noise.object` times the mean of
 *     |A exp(beta2 A)| over the scanned pixels and `noise.probe` times the peak of the mean probe image;
 *     off by default (deterministic);
 *   - the paper's zeta objective, written "(sum sqrt(I) - sqrt(D))^2", is read as the summed squared
 *     amplitude residual (the Gaussian amplitude loss of losses.ts);
 *   - probe modes K > 1 (not in the paper): the first mode is the formula's probe, extra modes get 10 % of its
 *     power in total and are shifted by k rows, as in init.ts probeFromMeanPattern; zeta is fitted after.
 */
import { fft2 } from "../physics/fft.js";
import type { ScanWindows } from "../physics/geometry.js";
import { ptychoIntensities } from "../physics/ptycho.js";
import { Rng } from "../sim/rng.js";
import { meanPattern, scannedMask } from "./init.js";

export interface AutocorrelationOptions {
  /** Probe modes K (default 1). */
  modes?: number;
  /** Standard deviation of the Gaussian smoothing g, in object pixels (default 2; 0: none). */
  sigma?: number;
  /** Complex beta2 as [re, im] (default [0, 0]). */
  beta2?: [number, number];
  /** Seeded noise xi1 (object) and xi2 (probe), relative levels (default: none). */
  noise?: { seed: number; object?: number; probe?: number };
  /** Fit zeta (default true); false leaves zeta = 1. */
  fitZeta?: boolean;
  /**
   * "paper" (default): sum |F^-1 sqrt(I_i)| as in the paper, a real non-negative probe; "coherent": the
   * complex average sum F^-1 sqrt(I_i) without the modulus (keeps the sign changes of a focused probe's
   * rings, whose far field then matches the data far better; see the report).
   */
  probeForm?: "paper" | "coherent";
}

export interface AutocorrelationResult {
  /** Complex object H x W (interleaved Float32). */
  object: Float32Array;
  /** Complex probe modes K x N x N (interleaved Float32). */
  probe: Float32Array;
  /** The fitted probe scale. */
  zeta: number;
  /** The smoothed ratio map A (H x W), for diagnostics. */
  ratio: Float64Array;
  /** The Gaussian amplitude loss sum (sqrt I - sqrt D)^2 at the returned object and probe. */
  loss: number;
}

/** Normalised separable Gaussian smoothing (weights renormalised at the edges). */
function smooth(a: Float64Array, height: number, width: number, sigma: number): Float64Array {
  if (!(sigma > 0)) return a.slice();
  const r = Math.ceil(3 * sigma);
  const k = new Float64Array(2 * r + 1);
  for (let i = -r; i <= r; i++) k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  const tmp = new Float64Array(a.length), out = new Float64Array(a.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0, w = 0;
      for (let i = Math.max(-r, -x); i <= Math.min(r, width - 1 - x); i++) {
        s += k[i + r] * a[y * width + x + i];
        w += k[i + r];
      }
      tmp[y * width + x] = s / w;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0, w = 0;
      for (let i = Math.max(-r, -y); i <= Math.min(r, height - 1 - y); i++) {
        s += k[i + r] * tmp[(y + i) * width + x];
        w += k[i + r];
      }
      out[y * width + x] = s / w;
    }
  }
  return out;
}

/** |F^-1 frame| (centred, orthonormal) of a real N x N frame, into out; F^-1 itself stays in buf. */
function absInverse(frame: ArrayLike<number>, n: number, buf: Float64Array, out: Float64Array, sqrt: boolean): void {
  buf.fill(0);
  for (let p = 0; p < n * n; p++) {
    const v = Math.max(0, frame[p]);
    buf[2 * p] = sqrt ? Math.sqrt(v) : v;
  }
  fft2(n).inverse(buf);
  for (let p = 0; p < n * n; p++) out[p] = Math.hypot(buf[2 * p], buf[2 * p + 1]);
}

export function autocorrelationInit(
  diffraction: Float32Array, npos: number, n: number, windows: ScanWindows, options: AutocorrelationOptions = {},
): AutocorrelationResult {
  const nn = n * n, H = windows.height, W = windows.width, HW = H * W;
  const K = options.modes ?? 1;
  const sigma = options.sigma ?? 2;
  const [b2r, b2i] = options.beta2 ?? [0, 0];
  if (!(Number.isInteger(K) && K >= 1)) throw new Error(`autocorrelationInit: modes must be an integer >= 1, got ${K}`);
  if (windows.n !== n || windows.count !== npos) {
    throw new Error(`autocorrelationInit: windows hold ${windows.count} positions of ${windows.n}x${windows.n}, expected ${npos} of ${n}x${n}`);
  }
  if (diffraction.length < npos * nn) throw new Error(`autocorrelationInit: ${diffraction.length} counts for ${npos} frames of ${n}x${n}`);
  const rng = options.noise ? new Rng(options.noise.seed, 0xac0) : null;

  // R = sum phi_i / sum Phi at the windows, and the probe image sum |F^-1 sqrt(I_i)|
  const mean = meanPattern(diffraction, npos, n);
  const coherent = options.probeForm === "coherent";
  const buf = new Float64Array(2 * nn), phi = new Float64Array(nn), Phi = new Float64Array(nn);
  const pimg = new Float64Array(2 * nn); // complex probe image
  absInverse(mean, n, buf, Phi, false);
  const num = new Float64Array(HW), den = new Float64Array(HW);
  for (let i = 0; i < npos; i++) {
    const frame = diffraction.subarray(i * nn, (i + 1) * nn);
    absInverse(frame, n, buf, phi, false);
    const iy = windows.iy[i], ix = windows.ix[i];
    for (let y = 0; y < n; y++) {
      const row = (iy + y) * W + ix;
      for (let x = 0; x < n; x++) {
        num[row + x] += phi[y * n + x];
        den[row + x] += Phi[y * n + x];
      }
    }
    absInverse(frame, n, buf, phi, true);
    if (coherent) for (let p = 0; p < 2 * nn; p++) pimg[p] += buf[p];
    else for (let p = 0; p < nn; p++) pimg[2 * p] += phi[p];
  }
  let maxDen = 0;
  for (const v of den) maxDen = Math.max(maxDen, v);
  const ratio = new Float64Array(HW);
  for (let p = 0; p < HW; p++) ratio[p] = den[p] > 1e-12 * maxDen ? num[p] / den[p] : 1;
  const A = smooth(ratio, H, W, sigma);

  // O = beta1 [A exp(beta2 A) + xi1]
  const mask = scannedMask(windows);
  const re = new Float64Array(HW), im = new Float64Array(HW);
  let meanAbs = 0, count = 0;
  for (let p = 0; p < HW; p++) {
    const a = A[p], m = a * Math.exp(b2r * a);
    re[p] = m * Math.cos(b2i * a);
    im[p] = m * Math.sin(b2i * a);
    if (mask[p]) {
      meanAbs += Math.abs(m);
      count++;
    }
  }
  meanAbs = count ? meanAbs / count : 1;
  if (rng && options.noise?.object) {
    const s = options.noise.object * meanAbs;
    for (let p = 0; p < HW; p++) re[p] += s * rng.normal();
  }
  let norm = 0;
  for (let p = 0; p < HW; p++) if (mask[p]) norm += Math.hypot(re[p], im[p]);
  const beta1 = norm > 0 ? count / norm : 1;
  const object64 = new Float64Array(2 * HW);
  for (let p = 0; p < HW; p++) {
    object64[2 * p] = beta1 * re[p];
    object64[2 * p + 1] = beta1 * im[p];
  }

  // P = 1/npos [sum |F^-1 sqrt(I_i)| + xi2] (zeta applied below)
  let peak = 0;
  for (let p = 0; p < nn; p++) {
    pimg[2 * p] /= npos;
    pimg[2 * p + 1] /= npos;
    peak = Math.max(peak, Math.hypot(pimg[2 * p], pimg[2 * p + 1]));
  }
  if (rng && options.noise?.probe) {
    const s = options.noise.probe * peak;
    for (let p = 0; p < nn; p++) pimg[2 * p] += s * rng.normal();
  }
  const probe64 = new Float64Array(2 * K * nn);
  for (let k = 0; k < K; k++) {
    const a = k === 0 ? 1 : Math.sqrt(0.1 / (K - 1));
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const src = 2 * (((y + k) % n) * n + x), dst = 2 * (k * nn + y * n + x);
        probe64[dst] = a * pimg[src];
        probe64[dst + 1] = a * pimg[src + 1];
      }
    }
  }

  // zeta = sum sqrt(I D1) / sum D1
  const d = new Float64Array(nn);
  let sab = 0, sbb = 0, saa = 0;
  for (let i = 0; i < npos; i++) {
    ptychoIntensities(object64, probe64, windows, i, 1, d);
    for (let p = 0; p < nn; p++) {
      const a = Math.sqrt(Math.max(0, diffraction[i * nn + p])), b = Math.sqrt(d[p]);
      sab += a * b;
      sbb += d[p];
      saa += a * a;
    }
  }
  const zeta = options.fitZeta === false ? 1 : sbb > 0 ? sab / sbb : 1;
  for (let i = 0; i < probe64.length; i++) probe64[i] *= zeta;
  const loss = saa - 2 * zeta * sab + zeta * zeta * sbb;
  return { object: Float32Array.from(object64), probe: Float32Array.from(probe64), zeta, ratio: A, loss };
}

/** The Gaussian amplitude loss sum (sqrt I - sqrt D)^2 of a float object and probe (diagnostics, tests). */
export function amplitudeLossOf(
  diffraction: Float32Array, windows: ScanWindows, object: Float32Array | Float64Array, probe: Float32Array | Float64Array,
): number {
  const nn = windows.n * windows.n, d = new Float64Array(nn);
  let loss = 0;
  for (let i = 0; i < windows.count; i++) {
    ptychoIntensities(object, probe, windows, i, 1, d);
    for (let p = 0; p < nn; p++) {
      const r = Math.sqrt(d[p]) - Math.sqrt(Math.max(0, diffraction[i * nn + p]));
      loss += r * r;
    }
  }
  return loss;
}
