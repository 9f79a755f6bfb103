/**
 * Fresnel-zone-plate-like probe. A zone plate of numerical aperture NA focuses a plane wave; in the paraxial
 * approximation the field near its focus is the inverse Fourier transform of its pupil: an annulus of radius
 * NA / lambda in spatial frequency (the central stop blocks the inner part), times the angular-spectrum
 * propagator exp(-i pi lambda dz |q|^2) for a defocus dz. On the N x N window of the object grid (frequency pixel
 * 1 / (N dx)) the pupil radius is R frequency pixels, i.e. NA = R lambda / (N dx), and the bright-field disc
 * covers 2R detector pixels; the defocus is given as the phase at the pupil edge, in waves:
 * phase(q) = -2 pi defocusWaves (|q| / R)^2 (dz = 2 defocusWaves lambda / NA^2). The result is a focused spot
 * with Airy-like rings centred at (N/2, N/2); its size in object pixels scales as 1 / R (R = 9, central stop
 * 0.3, half a wave of defocus: beam diameter about 0.3 N for N = 64).
 *
 * Extra modes (K > 1) use the same annulus with an azimuthal phase exp(i m theta), m = 1..K-1 (orthogonal
 * vortex modes, Gram-Schmidt orthogonalised), with power fractions proportional to 2^-m. All modes together
 * hold `photons` photons: sum_k sum_r |P_k(r)|^2 = photons.
 */
import { fft2 } from "../physics/fft.js";
import type { ProbeModes } from "../scan/model.js";

export interface ProbeSpec {
  n: number;
  modes: number;
  /** Total photons per exposure. */
  photons: number;
  /** Pupil radius R in frequency pixels (0 < R < N / 2). */
  pupilRadius_px: number;
  /** Central stop radius as a fraction of the pupil radius (0 for none). */
  centralStop: number;
  /** Defocus phase at the pupil edge, in waves. */
  defocusWaves: number;
}

/** Pupil transmission with anti-aliased edges (fraction of 4 x 4 sub-samples inside the annulus). */
function pupilWeight(ky: number, kx: number, outer: number, inner: number): number {
  let inside = 0;
  for (let sy = 0; sy < 4; sy++) {
    for (let sx = 0; sx < 4; sx++) {
      const r = Math.hypot(ky + (sy - 1.5) / 4, kx + (sx - 1.5) / 4);
      if (r <= outer && r >= inner) inside++;
    }
  }
  return inside / 16;
}

export function makeProbe(spec: ProbeSpec): ProbeModes {
  const { n, modes } = spec;
  if (!(Number.isInteger(modes) && modes >= 1)) throw new Error(`probe modes must be an integer >= 1, got ${modes}`);
  if (!(spec.pupilRadius_px > 0 && spec.pupilRadius_px < n / 2)) {
    throw new Error(`pupil radius must be in (0, N/2) = (0, ${n / 2}) frequency pixels, got ${spec.pupilRadius_px}`);
  }
  if (!(spec.centralStop >= 0 && spec.centralStop < 1)) throw new Error(`central stop must be in [0, 1), got ${spec.centralStop}`);
  if (!(spec.photons > 0)) throw new Error(`probe photons must be > 0, got ${spec.photons}`);
  const nn = n * n;
  const outer = spec.pupilRadius_px, inner = spec.centralStop * outer;
  const data = new Float64Array(2 * modes * nn);
  for (let m = 0; m < modes; m++) {
    const o = 2 * nn * m;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const ky = y - n / 2, kx = x - n / 2;
        const a = pupilWeight(ky, kx, outer, inner);
        if (a === 0) continue;
        const phase = -2 * Math.PI * spec.defocusWaves * ((ky * ky + kx * kx) / (outer * outer)) + m * Math.atan2(ky, kx);
        data[o + 2 * (n * y + x)] = a * Math.cos(phase);
        data[o + 2 * (n * y + x) + 1] = a * Math.sin(phase);
      }
    }
    fft2(n).inverse(data, m);
    orthonormalise(data, m, nn);
  }
  const total = (1 - 2 ** -modes) * 2; // sum of 2^-m, m = 0..K-1
  for (let m = 0; m < modes; m++) {
    const scale = Math.sqrt((spec.photons * 2 ** -m) / total);
    for (let i = 2 * nn * m; i < 2 * nn * (m + 1); i++) data[i] *= scale;
  }
  return { modes, n, data: Float32Array.from(data) };
}

/** Make mode m orthogonal to modes 0..m-1 (each of unit norm) and of unit norm. */
function orthonormalise(data: Float64Array, m: number, nn: number): void {
  const o = 2 * nn * m;
  for (let p = 0; p < m; p++) {
    const q = 2 * nn * p;
    let re = 0, im = 0; // <mode p, mode m>
    for (let i = 0; i < 2 * nn; i += 2) {
      re += data[q + i] * data[o + i] + data[q + i + 1] * data[o + i + 1];
      im += data[q + i] * data[o + i + 1] - data[q + i + 1] * data[o + i];
    }
    for (let i = 0; i < 2 * nn; i += 2) {
      data[o + i] -= re * data[q + i] - im * data[q + i + 1];
      data[o + i + 1] -= re * data[q + i + 1] + im * data[q + i];
    }
  }
  let norm = 0;
  for (let i = o; i < o + 2 * nn; i++) norm += data[i] * data[i];
  const s = 1 / Math.sqrt(norm);
  for (let i = o; i < o + 2 * nn; i++) data[i] *= s;
}

/** Fraction of the intensity inside the beam diameter: 1 - 1/e^2, the 1/e^2 diameter of a Gaussian beam. */
export const BEAM_ENERGY_FRACTION = 1 - Math.exp(-2);

/**
 * Beam diameter in pixels of an N x N intensity: the diameter of the smallest disc about the intensity centroid
 * that holds `fraction` of the total (default 86.5 %, equal to the 1/e^2 diameter for a Gaussian beam, and
 * well defined for ringed or doughnut probes where FWHM is not).
 */
export function beamDiameter_px(intensity: ArrayLike<number>, n: number, fraction = BEAM_ENERGY_FRACTION): number {
  let total = 0, cy = 0, cx = 0;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const v = intensity[n * y + x];
      total += v;
      cy += v * y;
      cx += v * x;
    }
  }
  if (!(total > 0)) throw new Error("beamDiameter_px: the intensity is zero");
  cy /= total;
  cx /= total;
  const r = new Float64Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) r[n * y + x] = Math.hypot(y - cy, x - cx);
  const order = Array.from(r.keys()).sort((a, b) => r[a] - r[b]);
  let acc = 0;
  for (const i of order) {
    acc += intensity[i];
    if (acc >= fraction * total) return 2 * r[i];
  }
  return 2 * r[order[order.length - 1]];
}
