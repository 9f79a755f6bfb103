/**
 * Fourier ring correlation between two images of equal size (real: H*W values; complex: 2*H*W interleaved):
 *
 *   FRC(i) = Re sum_{k in ring i} F1(k) F2(k)^*  /  sqrt( sum_{ring i} |F1(k)|^2  sum_{ring i} |F2(k)|^2 )
 *
 * F = the plain 2-D DFT (dft.ts: any size, no zero padding, so the rings are the images' own frequencies).
 * Rings are 1 frequency pixel wide: with L = min(H, W), sample (ky, kx) (signed frequency indices) belongs to
 * ring i = round(L sqrt((ky/H)^2 + (kx/W)^2)), i = 0..floor(L/2), ring i standing for the spatial frequency
 * i / L cycles per pixel (Nyquist = 1/2 at i = L/2; corner frequencies beyond it are left out). For square
 * images this is the usual ring of radius i.
 *
 * Threshold: the half-bit criterion (van Heel & Schatz 2005) by default,
 *   T(i) = (0.2071 + 1.9102 / sqrt(n_i)) / (1.2071 + 0.9102 / sqrt(n_i)),   n_i = Fourier samples in ring i,
 * the usual choice in X-ray ptychography: it accounts for the few samples of the inner rings, where a fixed
 * value would be crossed by chance. The fixed 1/7 threshold is available as `threshold: "1/7"`.
 * The resolution is read at the first ring i >= 1 where FRC(i) < T(i), linearly interpolated between rings
 * i - 1 and i (when ring 1 is already below, the crossing is put at ring 1); no crossing means the images agree
 * up to Nyquist (resolution 2 pixels, `crossing` null).
 *
 * FRC measures agreement of the two images' structure per frequency; a global complex factor between complex
 * images lowers Re(F1 F2^*): align first (errors.ts objectRelativeError's scale / alignObject). The optional mask
 * zeroes both images outside it; `apodize` multiplies both by a separable Hann window to suppress the edge
 * discontinuity of non-periodic images (off by default).
 */
import { dft2 } from "./dft.js";
import { checkMask, type MaskLike } from "./mask.js";

export type FrcThreshold = "half-bit" | "1/7";

export interface FrcOptions {
  threshold?: FrcThreshold;
  mask?: MaskLike;
  apodize?: boolean;
}

export interface FrcResult {
  /** Spatial frequency of each ring, cycles per pixel: i / min(H, W). */
  frequency: Float64Array;
  /** FRC per ring (NaN for a ring where either image has no power). */
  frc: Float64Array;
  /** Number of Fourier samples per ring. */
  samples: Int32Array;
  /** Threshold curve used, per ring. */
  threshold: Float64Array;
  thresholdKind: FrcThreshold;
  /** Frequency (cycles/pixel) of the first crossing below the threshold; null when there is none. */
  crossing: number | null;
  /** Resolution as a full period in pixels: 1 / crossing (2, the Nyquist period, when there is no crossing). */
  resolution_px: number;
  /** Half-period resolution in pixels: resolution_px / 2. */
  halfPeriod_px: number;
}

/** Half-bit threshold for a ring of n Fourier samples. */
export function halfBitThreshold(n: number): number {
  const r = 1 / Math.sqrt(n);
  return (0.2071 + 1.9102 * r) / (1.2071 + 0.9102 * r);
}

function toComplex(img: ArrayLike<number>, pixels: number, complex: boolean, window: Float64Array | null, mask?: MaskLike): Float64Array {
  const out = new Float64Array(2 * pixels);
  for (let p = 0; p < pixels; p++) {
    if (mask && !mask[p]) continue;
    const w = window ? window[p] : 1;
    out[2 * p] = w * (complex ? img[2 * p] : img[p]);
    out[2 * p + 1] = complex ? w * img[2 * p + 1] : 0;
  }
  return out;
}

function hann(height: number, width: number): Float64Array {
  const wy = (y: number) => (height > 1 ? 0.5 - 0.5 * Math.cos((2 * Math.PI * (y + 0.5)) / height) : 1);
  const wx = (x: number) => (width > 1 ? 0.5 - 0.5 * Math.cos((2 * Math.PI * (x + 0.5)) / width) : 1);
  const w = new Float64Array(height * width);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) w[y * width + x] = wy(y) * wx(x);
  return w;
}

export function frc(a: ArrayLike<number>, b: ArrayLike<number>, height: number, width: number, options: FrcOptions = {}): FrcResult {
  const pixels = height * width;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height >= 2 && width >= 2)) {
    throw new Error(`frc: image size must be at least 2 x 2, got ${height} x ${width}`);
  }
  if (a.length !== b.length) throw new Error(`frc: images of ${a.length} and ${b.length} values`);
  if (a.length !== pixels && a.length !== 2 * pixels) {
    throw new Error(`frc: ${a.length} values is neither a real nor an interleaved complex ${height} x ${width} image`);
  }
  checkMask(options.mask, pixels, "frc");
  const complex = a.length === 2 * pixels;
  const window = options.apodize ? hann(height, width) : null;
  const f1 = dft2(toComplex(a, pixels, complex, window, options.mask), height, width);
  const f2 = dft2(toComplex(b, pixels, complex, window, options.mask), height, width);

  const L = Math.min(height, width), rings = Math.floor(L / 2) + 1;
  const num = new Float64Array(rings), p1 = new Float64Array(rings), p2 = new Float64Array(rings);
  const samples = new Int32Array(rings);
  for (let y = 0; y < height; y++) {
    const ky = (y <= height / 2 ? y : y - height) / height;
    for (let x = 0; x < width; x++) {
      const kx = (x <= width / 2 ? x : x - width) / width;
      const i = Math.round(L * Math.hypot(ky, kx));
      if (i >= rings) continue;
      const d = 2 * (y * width + x);
      const ar = f1[d], ai = f1[d + 1], br = f2[d], bi = f2[d + 1];
      num[i] += ar * br + ai * bi;
      p1[i] += ar * ar + ai * ai;
      p2[i] += br * br + bi * bi;
      samples[i]++;
    }
  }
  const kind = options.threshold ?? "half-bit";
  if (kind !== "half-bit" && kind !== "1/7") throw new Error(`frc: unknown threshold "${String(kind)}" (half-bit, 1/7)`);
  const frequency = new Float64Array(rings), curve = new Float64Array(rings), threshold = new Float64Array(rings);
  for (let i = 0; i < rings; i++) {
    frequency[i] = i / L;
    const den = Math.sqrt(p1[i] * p2[i]);
    curve[i] = den > 0 ? num[i] / den : NaN;
    threshold[i] = kind === "1/7" ? 1 / 7 : halfBitThreshold(Math.max(samples[i], 1));
  }

  let crossing: number | null = null;
  let prev = -1;
  for (let i = 1; i < rings; i++) {
    if (Number.isNaN(curve[i])) continue;
    const d = curve[i] - threshold[i];
    if (d < 0) {
      if (prev < 1) {
        crossing = frequency[i];
      } else {
        const dp = curve[prev] - threshold[prev];
        const t = dp / (dp - d);
        crossing = frequency[prev] + t * (frequency[i] - frequency[prev]);
      }
      break;
    }
    prev = i;
  }
  const resolution_px = crossing === null ? 2 : 1 / crossing;
  return {
    frequency, frc: curve, samples, threshold, thresholdKind: kind, crossing, resolution_px, halfPeriod_px: resolution_px / 2,
  };
}
