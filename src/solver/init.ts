/** Starting points: probe from the file or the mean diffraction pattern, object amplitude, element maps. */
import { fft2 } from "../physics/fft.js";
import type { ScanWindows } from "../physics/geometry.js";
import { probeIntensity } from "../physics/xrf.js";
import type { LinkSpec } from "../scan/model.js";

/** Mean diffraction pattern over all positions. */
export function meanPattern(diffraction: Float32Array, npos: number, n: number): Float64Array {
  const nn = n * n, mean = new Float64Array(nn);
  for (let j = 0; j < npos; j++) {
    const off = j * nn;
    for (let p = 0; p < nn; p++) mean[p] += diffraction[off + p];
  }
  for (let p = 0; p < nn; p++) mean[p] /= npos;
  return mean;
}

/**
 * Probe from the mean pattern: the inverse FFT of its square root with flat phase (a centred, compact
 * guess whose intensity matches the mean counts, by Parseval); extra modes get 10 % of the first's power,
 * shifted by a pixel so they are not identical.
 */
export function probeFromMeanPattern(mean: Float64Array, n: number, modes: number): Float32Array {
  const buf = new Float64Array(2 * n * n);
  for (let p = 0; p < n * n; p++) buf[2 * p] = Math.sqrt(Math.max(0, mean[p]));
  fft2(n).inverse(buf);
  const out = new Float32Array(2 * modes * n * n);
  for (let k = 0; k < modes; k++) {
    const a = k === 0 ? 1 : Math.sqrt(0.1 / (modes - 1));
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const src = 2 * (((y + k) % n) * n + x), dst = 2 * (k * n * n + y * n + x);
        out[dst] = a * buf[src];
        out[dst + 1] = a * buf[src + 1];
      }
    }
  }
  return out;
}

/** Mean object amplitude implied by the counts: sqrt(mean total counts / probe power). */
export function objectAmplitude(mean: Float64Array, probe: Float32Array): number {
  let counts = 0, power = 0;
  for (const v of mean) counts += v;
  for (const v of probe) power += v * v;
  return power > 0 ? Math.sqrt(counts / power) : 1;
}

/**
 * Element maps on the object grid from the measured fluorescence: each position's value M_ej / (s_e sum I_P)
 * (the local areal density if the map were flat under the beam), spread with a Gaussian of the scan step,
 * normalised by the summed weights; unscanned pixels take the nearest scanned value's spread.
 */
export function initialMaps(
  measured: Float32Array, sensitivity: Float32Array, probe: Float32Array, windows: ScanWindows,
): Float32Array {
  const { height: H, width: W, n, count } = windows;
  const E = sensitivity.length;
  const intensity = new Float64Array(n * n);
  probeIntensity(probe, n, 0, 0, intensity);
  let power = 0;
  for (const v of intensity) power += v;
  const cy = new Float64Array(count), cx = new Float64Array(count);
  for (let j = 0; j < count; j++) {
    cy[j] = windows.corner[2 * j] + n / 2;
    cx[j] = windows.corner[2 * j + 1] + n / 2;
  }
  let step = Infinity;
  for (let j = 0; j < Math.min(count, 200); j++) {
    for (let i = 0; i < count; i++) {
      if (i !== j) {
        const d = Math.hypot(cy[i] - cy[j], cx[i] - cx[j]);
        if (d > 1e-6) step = Math.min(step, d);
      }
    }
  }
  const sigma = Number.isFinite(step) ? Math.max(1, step / 2) : n / 4;
  const radius = Math.ceil(3 * sigma);
  const sum = new Float64Array(E * H * W), wsum = new Float64Array(H * W);
  for (let j = 0; j < count; j++) {
    const y0 = Math.max(0, Math.floor(cy[j] - radius)), y1 = Math.min(H - 1, Math.ceil(cy[j] + radius));
    const x0 = Math.max(0, Math.floor(cx[j] - radius)), x1 = Math.min(W - 1, Math.ceil(cx[j] + radius));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const w = Math.exp(-((y - cy[j]) ** 2 + (x - cx[j]) ** 2) / (2 * sigma * sigma));
        const p = y * W + x;
        wsum[p] += w;
        for (let e = 0; e < E; e++) sum[e * H * W + p] += (w * measured[e * count + j]) / (sensitivity[e] * power);
      }
    }
  }
  const out = new Float32Array(E * H * W);
  const means = new Float64Array(E);
  for (let e = 0; e < E; e++) {
    let m = 0;
    for (let j = 0; j < count; j++) m += measured[e * count + j] / (sensitivity[e] * power);
    means[e] = Math.max(0, m / Math.max(1, count));
  }
  for (let p = 0; p < H * W; p++) {
    for (let e = 0; e < E; e++) {
      out[e * H * W + p] = wsum[p] > 1e-3 ? Math.max(0, sum[e * H * W + p] / wsum[p]) : means[e];
    }
  }
  return out;
}

/**
 * A constant starting value of the free map that gives the object the mean amplitude the counts imply:
 * linear link |sum_e a_e c_e + i y| = a0 on average (y >= 0); exponential link
 * exp(-k (sum_e beta_e c_e + beta_m m)) = a0 on average (m >= 0). Without it the ptychography term first
 * pushes the element maps up to make up the missing amplitude, against the XRF term.
 */
export function initialFreeValue(link: LinkSpec, maps: Float32Array, elements: string[], pixels: number, amplitude: number, mask?: Uint8Array): number {
  let count = 0, sumSq = 0, sumBeta = 0;
  for (let p = 0; p < pixels; p++) {
    if (mask && !mask[p]) continue;
    let re = 0, beta = 0;
    elements.forEach((el, e) => {
      const c = maps[e * pixels + p];
      if (link.type === "linear") re += (link.weights[el] ?? 1) * c;
      else beta += link.coefficients[el].beta * c;
    });
    sumSq += re * re;
    sumBeta += beta;
    count++;
  }
  if (count === 0) return 0;
  if (link.type === "linear") return Math.sqrt(Math.max(0, amplitude * amplitude - sumSq / count));
  const bm = link.matrix.beta;
  if (!(bm > 0) || !(amplitude > 0)) return 0;
  return Math.max(0, (-Math.log(amplitude) / link.k - sumBeta / count) / bm);
}

/** Pixels covered by at least one scan window. */
export function scannedMask(windows: ScanWindows): Uint8Array {
  const { width: W, height: H, n } = windows;
  const mask = new Uint8Array(H * W);
  for (let j = 0; j < windows.count; j++) {
    for (let y = 0; y < n; y++) mask.fill(1, (windows.iy[j] + y) * W + windows.ix[j], (windows.iy[j] + y) * W + windows.ix[j] + n);
  }
  return mask;
}
