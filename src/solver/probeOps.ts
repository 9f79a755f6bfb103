/**
 * Probe gauge operations applied between epochs (DAP: "the X-ray probe P will be recentred to remove any global
 * translation ambiguity, and its mean phase will be set to zero"), plus the orthogonalisation of incoherent
 * probe modes. Each leaves the data unchanged:
 *
 * (a) `orthogonaliseProbeModes`: Q_j = sum_k V_kj P_k with V the eigenvectors of the K x K overlap matrix
 *     A_kl = <P_k, P_l> = sum_r conj(P_k(r)) P_l(r) (Hermitian; `hermitianEigen`, complex Jacobi), sorted by
 *     decreasing eigenvalue = power ||Q_j||^2. V is unitary, so <Q_i, Q_j> = lambda_j delta_ij and, pointwise,
 *     sum_j |Q_j(r)|^2 = sum_k |P_k(r)|^2: the probe intensity (XRF) and every pattern sum_k |F(Q_k O)|^2 are
 *     unchanged. (Gram-Schmidt would also orthogonalise but does not preserve the pointwise intensity.)
 *     The modes are mixed: reset the probe's optimiser state (Adam moments) afterwards.
 *
 * (b) `recentreProbe`: shifts every mode by d = (N/2, N/2) - (intensity centre of mass), with the Fourier shift
 *     of physics/geometry.ts subpixelShiftProbe (P'(u) = P(u - d): content moves towards larger indices for
 *     d > 0; circular in the window), and returns d. Sign: the exit wave at position j is
 *     psi_j(v) = P(v) O(c_j + v) (v window coordinates, c_j the window corner); with P'(v) = P(v - d) the same
 *     data need O'(x) = O(x - d), i.e. the object shifted by the SAME d on its grid (`shiftImage(O, H, W, dy, dx)`),
 *     NOT by -d. Then psi'_j(v) = psi_j(v - d): each exit wave is translated by d inside its window, and its
 *     far field changes only by the phase ramp exp(-2 pi i k.d / N), so every |F psi_j|^2 is unchanged
 *     (exactly for whole-pixel d, up to the window's circular wrap where the probe is not ~0; to interpolation
 *     accuracy for sub-pixel d). Equivalently the scan positions could move by -d instead. In joint mode shift
 *     the element maps and the free map (`shiftRealImage`) instead of the object: the XRF model
 *     sum_r I_P(r - r_j - d) c(r - d) is unchanged too. Shift the Adam moments alike or reset them.
 *
 * (c) `normaliseProbePhase`: multiplies the probe by a = exp(-i phi), phi = arg sum_k sum_r |P_k(r)| P_k(r) (the
 *     intensity-weighted circular mean phase), and returns a. Multiplying the object by 1/a = conj(a) keeps
 *     every product P O (exit wave) exactly unchanged; but a global probe phase is a gauge of the data on its
 *     own (|F(a P O)|^2 = |F(P O)|^2, |a P|^2 = |P|^2), so the object need not be touched (it cannot be in joint
 *     mode: the link fixes the object's phase).
 */
import type { Buf } from "../physics/complex.js";
import { subpixelShiftProbe } from "../physics/geometry.js";
import { probeModeCount } from "../physics/ptycho.js";
import { Dft1 } from "../metrics/dft.js";

// ---------------------------------------------------------------------------------------------------------
// Hermitian eigen-decomposition (complex Jacobi), for small K

export interface HermitianEigen {
  /** Eigenvalues, decreasing. */
  values: Float64Array;
  /** Eigenvectors as columns of a unitary K x K complex matrix, interleaved row-major: V_ij at 2 (K i + j). */
  vectors: Float64Array;
}

/**
 * Eigen-decomposition A = V diag(values) V^H of a Hermitian K x K complex matrix (interleaved re/im, row-major;
 * the Hermitian part (A + A^H) / 2 is used). Cyclic complex Jacobi rotations: each pivot A_pq = |z| e^{i phi}
 * is annihilated by U = diag(1, e^{-i phi}) R(c, s) in the (p, q) plane. Meant for K <= ~16.
 */
export function hermitianEigen(matrix: ArrayLike<number>, k: number): HermitianEigen {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`hermitianEigen: size must be an integer >= 1, got ${k}`);
  if (matrix.length !== 2 * k * k) throw new Error(`hermitianEigen: ${matrix.length} values is not a ${k} x ${k} complex matrix`);
  const re = new Float64Array(k * k), im = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const a = 2 * (k * i + j), b = 2 * (k * j + i);
      re[k * i + j] = 0.5 * (matrix[a] + matrix[b]);
      im[k * i + j] = 0.5 * (matrix[a + 1] - matrix[b + 1]);
    }
  }
  const vr = new Float64Array(k * k), vi = new Float64Array(k * k);
  for (let i = 0; i < k; i++) vr[k * i + i] = 1;
  let scale = 0;
  for (let i = 0; i < k * k; i++) scale += re[i] * re[i] + im[i] * im[i];
  for (let sweep = 0; sweep < 100 && scale > 0; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += re[k * p + q] ** 2 + im[k * p + q] ** 2;
    if (off <= 1e-32 * scale) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const zr = re[k * p + q], zi = im[k * p + q];
        const r = Math.hypot(zr, zi);
        if (r === 0 || r * r <= 1e-36 * scale) continue;
        const er = zr / r, ei = -zi / r; // e^{-i phi}
        const a = re[k * p + p], b = re[k * q + q];
        const theta = (b - a) / (2 * r);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        // columns: X <- X U  (A and V)
        const cols = (xr: Float64Array, xi: Float64Array) => {
          for (let i = 0; i < k; i++) {
            const pr = xr[k * i + p], pi = xi[k * i + p], qr = xr[k * i + q], qi = xi[k * i + q];
            const wr = er * qr - ei * qi, wi = er * qi + ei * qr; // e^{-i phi} X_iq
            xr[k * i + p] = c * pr - s * wr;
            xi[k * i + p] = c * pi - s * wi;
            xr[k * i + q] = s * pr + c * wr;
            xi[k * i + q] = s * pi + c * wi;
          }
        };
        cols(re, im);
        cols(vr, vi);
        // rows: A <- U^H A
        for (let j = 0; j < k; j++) {
          const pr = re[k * p + j], pi = im[k * p + j], qr = re[k * q + j], qi = im[k * q + j];
          const wr = er * qr + ei * qi, wi = er * qi - ei * qr; // e^{+i phi} A_qj
          re[k * p + j] = c * pr - s * wr;
          im[k * p + j] = c * pi - s * wi;
          re[k * q + j] = s * pr + c * wr;
          im[k * q + j] = s * pi + c * wi;
        }
        re[k * p + q] = im[k * p + q] = re[k * q + p] = im[k * q + p] = 0;
        im[k * p + p] = im[k * q + q] = 0;
      }
    }
  }
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => re[k * y + y] - re[k * x + x]);
  const values = new Float64Array(k), vectors = new Float64Array(2 * k * k);
  order.forEach((src, j) => {
    values[j] = re[k * src + src];
    for (let i = 0; i < k; i++) {
      vectors[2 * (k * i + j)] = vr[k * i + src];
      vectors[2 * (k * i + j) + 1] = vi[k * i + src];
    }
  });
  return { values, vectors };
}

// ---------------------------------------------------------------------------------------------------------
// (a) orthogonal modes

/** Overlap matrix A_kl = <P_k, P_l> = sum_r conj(P_k) P_l of K modes (interleaved, row-major K x K). */
export function modeOverlap(probe: ArrayLike<number>, n: number): Float64Array {
  const modes = probe.length / (2 * n * n);
  if (!Number.isInteger(modes) || modes < 1) throw new Error(`probe: ${probe.length} floats is not K x ${n} x ${n} complex`);
  const nn2 = 2 * n * n;
  const a = new Float64Array(2 * modes * modes);
  for (let p = 0; p < modes; p++) {
    for (let q = p; q < modes; q++) {
      let sr = 0, si = 0;
      for (let i = 0; i < nn2; i += 2) {
        const xr = probe[p * nn2 + i], xi = probe[p * nn2 + i + 1], yr = probe[q * nn2 + i], yi = probe[q * nn2 + i + 1];
        sr += xr * yr + xi * yi;
        si += xr * yi - xi * yr;
      }
      a[2 * (modes * p + q)] = sr;
      a[2 * (modes * p + q) + 1] = si;
      a[2 * (modes * q + p)] = sr;
      a[2 * (modes * q + p) + 1] = -si;
    }
  }
  return a;
}

/**
 * Orthogonalises the K modes of `probe` (K x N x N complex) in place by the eigen-decomposition of their overlap
 * matrix; the new modes are sorted by decreasing power. Returns the powers ||Q_j||^2 and the unitary mixing V
 * (Q_j = sum_k V_kj P_k). K = 1 is left as it is.
 */
export function orthogonaliseProbeModes(probe: Buf, n: number): { powers: Float64Array; mixing: Float64Array } {
  const modes = probeModeCount(probe, n);
  const { values, vectors } = hermitianEigen(modeOverlap(probe, n), modes);
  if (modes === 1) return { powers: values, mixing: vectors };
  const nn = n * n;
  const src = Float64Array.from(probe);
  for (let j = 0; j < modes; j++) {
    for (let r = 0; r < nn; r++) {
      let sr = 0, si = 0;
      for (let m = 0; m < modes; m++) {
        const vr = vectors[2 * (modes * m + j)], vi = vectors[2 * (modes * m + j) + 1];
        const pr = src[2 * (m * nn + r)], pi = src[2 * (m * nn + r) + 1];
        sr += vr * pr - vi * pi;
        si += vr * pi + vi * pr;
      }
      probe[2 * (j * nn + r)] = sr;
      probe[2 * (j * nn + r) + 1] = si;
    }
  }
  return { powers: values, mixing: vectors };
}

// ---------------------------------------------------------------------------------------------------------
// (b) recentring

/** Centre of mass (y, x), in window pixels, of the total intensity sum_k |P_k|^2 (NaN if the probe is zero). */
export function probeCentreOfMass(probe: ArrayLike<number>, n: number): [number, number] {
  const nn = n * n, modes = probe.length / (2 * nn);
  let t = 0, sy = 0, sx = 0;
  for (let m = 0; m < modes; m++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const i = 2 * (m * nn + n * y + x);
        const v = probe[i] * probe[i] + probe[i + 1] * probe[i + 1];
        t += v;
        sy += v * y;
        sx += v * x;
      }
    }
  }
  return [sy / t, sx / t];
}

export interface RecentreOptions {
  /** Shift by the exact sub-pixel amount (default) or by the nearest whole pixels (exact, no interpolation). */
  subpixel?: boolean;
  /** Leave the probe alone (and return (0, 0)) when max(|dy|, |dx|) is below this (default 0). */
  minShift_px?: number;
}

/**
 * Moves the probe's intensity centre of mass to the window centre (N/2, N/2) (the centred FFT's origin, where
 * geometry.ts puts the scan position), in place, and returns the shift applied, d = (dy, dx) pixels: the
 * probe's content moved by +d. Shift the object (or the maps) by the same +d: shiftImage(O, H, W, dy, dx).
 */
export function recentreProbe(probe: Buf, n: number, options: RecentreOptions = {}): { dy: number; dx: number } {
  probeModeCount(probe, n);
  const [cy, cx] = probeCentreOfMass(probe, n);
  if (!Number.isFinite(cy) || !Number.isFinite(cx)) return { dy: 0, dx: 0 };
  let dy = n / 2 - cy, dx = n / 2 - cx;
  if (options.subpixel === false) {
    dy = Math.round(dy);
    dx = Math.round(dx);
  }
  if (Math.max(Math.abs(dy), Math.abs(dx)) < (options.minShift_px ?? 0) || (dy === 0 && dx === 0)) return { dy: 0, dx: 0 };
  subpixelShiftProbe(probe, n, dy, dx, probe);
  return { dy: dy + 0, dx: dx + 0 };
}

/** A reusable 1-D shifter on the half-sample-symmetric (mirror) extension of a line of length L (period 2L). */
class LineShifter {
  private readonly m: number;
  private readonly dft: Dft1;
  private readonly buf: Float64Array;
  private readonly ramp: Float64Array;

  constructor(readonly length: number, readonly shift: number) {
    this.m = 2 * length;
    this.dft = new Dft1(this.m);
    this.buf = new Float64Array(2 * this.m);
    this.ramp = new Float64Array(2 * this.m);
    for (let k = 0; k < this.m; k++) {
      const f = k < length ? k : k - this.m; // signed frequency, Nyquist at -L (as subpixelShiftProbe)
      const q = (-2 * Math.PI * f * shift) / this.m;
      this.ramp[2 * k] = Math.cos(q) / this.m;
      this.ramp[2 * k + 1] = Math.sin(q) / this.m;
    }
  }

  /** Shifts `count` complex (or real, `complex` false) values at data[offset + i * stride] in place. */
  apply(data: Buf, offset: number, stride: number, complex: boolean): void {
    const { length: L, m, buf, ramp } = this;
    const c = complex ? 2 : 1;
    for (let i = 0; i < L; i++) {
      const d = c * (offset + i * stride);
      const r = data[d], im = complex ? data[d + 1] : 0;
      buf[2 * i] = r;
      buf[2 * i + 1] = im;
      buf[2 * (m - 1 - i)] = r;
      buf[2 * (m - 1 - i) + 1] = im;
    }
    this.dft.transform(buf);
    // multiply by the ramp, conjugate, forward DFT, conjugate: the inverse DFT (the 1/m is in the ramp)
    for (let k = 0; k < m; k++) {
      const xr = buf[2 * k], xi = buf[2 * k + 1], rr = ramp[2 * k], ri = ramp[2 * k + 1];
      buf[2 * k] = xr * rr - xi * ri;
      buf[2 * k + 1] = -(xr * ri + xi * rr);
    }
    this.dft.transform(buf);
    for (let i = 0; i < L; i++) {
      const d = c * (offset + i * stride);
      data[d] = buf[2 * i];
      if (complex) data[d + 1] = -buf[2 * i + 1];
    }
  }
}

/** Whole-pixel shift of one line with mirror fill: out[i] = e[i - s], e the half-sample-symmetric extension. */
function integerShiftLine(data: Buf, offset: number, stride: number, length: number, s: number, complex: boolean, tmp: Float64Array): void {
  const c = complex ? 2 : 1, m = 2 * length;
  for (let i = 0; i < length; i++) {
    const d = c * (offset + i * stride);
    tmp[2 * i] = data[d];
    if (complex) tmp[2 * i + 1] = data[d + 1];
  }
  for (let i = 0; i < length; i++) {
    let j = (((i - s) % m) + m) % m;
    if (j >= length) j = m - 1 - j;
    const d = c * (offset + i * stride);
    data[d] = tmp[2 * j];
    if (complex) data[d + 1] = tmp[2 * j + 1];
  }
}

function shiftSeparable(img: Buf, height: number, width: number, dy: number, dx: number, complex: boolean): void {
  const axes: [number, number, number, number, number][] = [
    // [shift, line length, line count, offset step between lines, stride within a line]
    [dx, width, height, width, 1],
    [dy, height, width, 1, width],
  ];
  for (const [s, length, count, lineStep, stride] of axes) {
    if (s === 0 || length === 1) continue;
    if (Number.isInteger(s)) {
      const tmp = new Float64Array(2 * length);
      for (let l = 0; l < count; l++) integerShiftLine(img, l * lineStep, stride, length, s, complex, tmp);
    } else {
      const shifter = new LineShifter(length, s);
      for (let l = 0; l < count; l++) shifter.apply(img, l * lineStep, stride, complex);
    }
  }
}

function checkShift(what: string, n: number, expected: number, height: number, width: number, dy: number, dx: number): void {
  if (n !== expected) throw new Error(`${what}: ${n} values is not a ${height} x ${width} image`);
  if (!Number.isFinite(dy) || !Number.isFinite(dx)) throw new Error(`${what}: shift must be finite, got (${dy}, ${dx})`);
}

/**
 * Shifts an H x W complex image (interleaved) by (dy, dx) pixels in place: out(y, x) = in(y - dy, x - dx),
 * content moving towards larger indices for positive shifts (the convention of subpixelShiftProbe, with the
 * same signed-frequency phase ramp). Separable: each row, then each column, on its half-sample-symmetric mirror
 * extension of period 2L, so the image is not wrapped around (pixels entering at an edge are mirrored from
 * inside it) and a sub-pixel shift does not ring at the borders' jump. Whole-pixel shifts are exact index
 * moves; fractional shifts use the Fourier phase ramp (band-limited interpolation, unitary on the extension).
 * Returns the image.
 */
export function shiftImage<T extends Buf>(image: T, height: number, width: number, dy: number, dx: number): T {
  checkShift("shiftImage", image.length, 2 * height * width, height, width, dy, dx);
  shiftSeparable(image, height, width, dy, dx, true);
  return image;
}

/** shiftImage for a real H x W map (element maps, the free map); may undershoot below 0 near sharp edges. */
export function shiftRealImage<T extends Buf>(map: T, height: number, width: number, dy: number, dx: number): T {
  checkShift("shiftRealImage", map.length, height * width, height, width, dy, dx);
  shiftSeparable(map, height, width, dy, dx, false);
  return map;
}

// ---------------------------------------------------------------------------------------------------------
// (c) phase normalisation

export interface PhaseNormalisation {
  /** The unit complex factor a = exp(-i phi) the probe was multiplied by, [re, im]. */
  factor: [number, number];
  /** phi: the probe's intensity-weighted mean phase before normalisation (radians). */
  phase: number;
}

/**
 * Sets the probe's intensity-weighted mean phase to zero: P <- a P with a = exp(-i phi),
 * phi = arg sum_k sum_r |P_k(r)| P_k(r). Returns a; multiply the object by conj(a) (= 1/a) to keep P O unchanged
 * (`scaleComplex(object, conj)`), or leave it: a global probe phase does not change the data.
 */
export function normaliseProbePhase(probe: Buf, n: number): PhaseNormalisation {
  probeModeCount(probe, n);
  let sr = 0, si = 0;
  for (let i = 0; i < probe.length; i += 2) {
    const r = probe[i], im = probe[i + 1];
    const a = Math.hypot(r, im);
    sr += a * r;
    si += a * im;
  }
  if (!(Math.hypot(sr, si) > 0)) return { factor: [1, 0], phase: 0 };
  const phase = Math.atan2(si, sr);
  const factor: [number, number] = [Math.cos(phase), -Math.sin(phase)];
  scaleComplex(probe, factor);
  return { factor, phase };
}

/** buf *= (re + i im), in place, over all complex elements. */
export function scaleComplex(buf: Buf, [re, im]: readonly [number, number]): void {
  for (let i = 0; i < buf.length; i += 2) {
    const a = buf[i], b = buf[i + 1];
    buf[i] = a * re - b * im;
    buf[i + 1] = a * im + b * re;
  }
}

/** 1 / a for a non-zero complex factor (conj(a) for a unit factor). */
export function inverseFactor([re, im]: readonly [number, number]): [number, number] {
  const d = re * re + im * im;
  if (!(d > 0)) throw new Error("inverseFactor: the factor is zero");
  return [re / d, -im / d];
}
