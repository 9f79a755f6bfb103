/**
 * Unnormalised 2-D DFT of N x N complex frames held as split planes (re[], im[] Float64Array, row-major), for
 * the cpu engine's hot loop. No bit-reversal permutation and no transposes:
 *
 *   forward(re, im, off):  natural order in  ->  X[k] = sum_n x[n] exp(-2 pi i k.n / N), stored BIT-REVERSED
 *                          along both axes: X(ky, kx) sits at p = bitrev(ky) * N + bitrev(kx)
 *   inverse(re, im, off):  bit-reversed in   ->  x[n] = sum_k X[k] exp(+2 pi i k.n / N), natural order out
 *
 * so inverse(forward(x)) = N^2 x. The frequency layout only matters to element-wise products in between
 * (see `freqIndex`: natural-order index of each stored frequency). Decimation in frequency forward and in
 * time inverse (its exact adjoint), with radix-2 stages fused three (or two) per memory pass: radix-8
 * butterflies (an 8-point DFT of samples N/8 apart, bit-reversed output, then the twiddles; the t = 0
 * butterflies skip the twiddles), radix-4 where log2 N leaves 2 or 4 bits. Both axes are transformed
 * "vectorised": the butterfly loop runs over the other axis with fixed twiddles (contiguous rows for the y
 * pass, stride N for the x pass; measured equally fast). N = 64 forward ~32 us, inverse ~35 us here, vs ~70 us
 * for fft.js rows and columns with copies. Keep re and im from starting at the same address modulo 4 KiB
 * (kernel.ts Arena): that doubles the time. The centring checkerboard and the 1/N scaling
 * of the orthonormal centred FFT (src/physics/fft.ts) are left to the caller, which folds them into the
 * element-wise products (engine kernel).
 */
import { isPowerOfTwo } from "../../physics/fft.js";

export function bitReversal(n: number): Int32Array {
  const bits = Math.round(Math.log2(n));
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let b = 0; b < bits; b++) if (i & (1 << b)) v |= 1 << (bits - 1 - b);
    r[i] = v;
  }
  return r;
}

export class SplitFFT2 {
  readonly n: number;
  readonly nn: number;
  /** bitrev[i]: the frequency stored at row/column i of the transformed layout. */
  readonly bitrev: Int32Array;
  /** freqIndex[p]: natural row-major index ky * N + kx of the frequency stored at p (an involution). */
  readonly freqIndex: Int32Array;
  /** Fused radix-2^r stages of one axis, r in {1, 2, 3}, largest half-size first. */
  private readonly plan: number[];
  /** W_N^m = exp(-2 pi i m / N), m < N. */
  private readonly twr: Float64Array;
  private readonly twi: Float64Array;

  constructor(n: number) {
    if (!isPowerOfTwo(n)) throw new Error(`SplitFFT2: frame size must be a power of two >= 2, got ${n}`);
    this.n = n;
    this.nn = n * n;
    this.bitrev = bitReversal(n);
    this.freqIndex = new Int32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) this.freqIndex[i * n + j] = this.bitrev[i] * n + this.bitrev[j];
    this.twr = new Float64Array(n);
    this.twi = new Float64Array(n);
    for (let m = 0; m < n; m++) {
      this.twr[m] = Math.cos((2 * Math.PI * m) / n);
      this.twi[m] = -Math.sin((2 * Math.PI * m) / n);
    }
    this.plan = [];
    let bits = Math.round(Math.log2(n));
    while (bits > 0) {
      const r = bits === 4 || bits === 2 ? 2 : bits === 1 ? 1 : 3;
      this.plan.push(r);
      bits -= r;
    }
  }

  /** Forward DFT (exp -) of the frame at element offset `off` of re/im: natural in, bit-reversed out. */
  forward(re: Float64Array, im: Float64Array, off: number): void {
    const n = this.n;
    this.dif(re, im, off, n, 1);
    this.dif(re, im, off, 1, n);
  }

  /** Inverse DFT (exp +, unscaled) of the frame at offset `off`: bit-reversed in, natural out. */
  inverse(re: Float64Array, im: Float64Array, off: number): void {
    const n = this.n;
    this.dit(re, im, off, 1, n);
    this.dit(re, im, off, n, 1);
  }

  /**
   * Decimation-in-frequency along one axis: element stride `es` (distance between samples of one 1-D
   * transform), vector stride `vs` (distance between the N transforms done together).
   */
  private dif(re: Float64Array, im: Float64Array, off: number, es: number, vs: number): void {
    let h = this.n >> 1;
    for (const r of this.plan) {
      if (r === 3) this.dif8(re, im, off, es, vs, h);
      else if (r === 2) this.dif4(re, im, off, es, vs, h);
      else this.dif2(re, im, off, es, vs);
      h >>= r;
    }
  }

  /** Inverse of `dif` (times N): the adjoint stages in reverse order. */
  private dit(re: Float64Array, im: Float64Array, off: number, es: number, vs: number): void {
    const plan = this.plan;
    let h = 1;
    for (let i = plan.length - 1; i >= 0; i--) {
      const r = plan[i];
      if (r === 3) this.dit8(re, im, off, es, vs, h);
      else if (r === 2) this.dit4(re, im, off, es, vs, h);
      else this.dif2(re, im, off, es, vs); // a lone radix-2 stage only occurs at h = 1 (self-adjoint)
      h <<= r;
    }
  }

  /** One radix-2 stage with half-size 1 (no twiddles). */
  private dif2(re: Float64Array, im: Float64Array, off: number, es: number, vs: number): void {
    const n = this.n;
    for (let g = 0; g < n; g += 2) {
      let a = off + g * es;
      for (let v = 0; v < n; v++, a += vs) {
        const b = a + es;
        const ar = re[a], ai = im[a], br = re[b], bi = im[b];
        re[a] = ar + br; im[a] = ai + bi;
        re[b] = ar - br; im[b] = ai - bi;
      }
    }
  }

  /** Two fused radix-2 DIF stages, half-sizes h and h/2. */
  private dif4(re: Float64Array, im: Float64Array, off: number, es: number, vs: number, h: number): void {
    const n = this.n, twr = this.twr, twi = this.twi, ts = n / (2 * h);
    const q = h >> 1, d = q * es;
    for (let g = 0; g < n; g += 2 * h) {
      for (let t = 0; t < q; t++) {
        const w1r = twr[t * ts], w1i = twi[t * ts], vr = twr[2 * t * ts], vi = twi[2 * t * ts];
        let a0 = off + (g + t) * es;
        for (let v = 0; v < n; v++, a0 += vs) {
          const a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
          const x0r = re[a0], x0i = im[a0], x1r = re[a1], x1i = im[a1];
          const x2r = re[a2], x2i = im[a2], x3r = re[a3], x3i = im[a3];
          const b0r = x0r + x2r, b0i = x0i + x2i, b1r = x1r + x3r, b1i = x1i + x3i;
          const d2r = x0r - x2r, d2i = x0i - x2i;
          const d3r = x1i - x3i, d3i = x3r - x1r; // -i (x1 - x3)
          const b2r = d2r * w1r - d2i * w1i, b2i = d2r * w1i + d2i * w1r;
          const b3r = d3r * w1r - d3i * w1i, b3i = d3r * w1i + d3i * w1r;
          re[a0] = b0r + b1r; im[a0] = b0i + b1i;
          const e1r = b0r - b1r, e1i = b0i - b1i;
          re[a1] = e1r * vr - e1i * vi; im[a1] = e1r * vi + e1i * vr;
          re[a2] = b2r + b3r; im[a2] = b2i + b3i;
          const e3r = b2r - b3r, e3i = b2i - b3i;
          re[a3] = e3r * vr - e3i * vi; im[a3] = e3r * vi + e3i * vr;
        }
      }
    }
  }

  /** Adjoint of dif4 (conjugate twiddles), half-sizes h and 2h. */
  private dit4(re: Float64Array, im: Float64Array, off: number, es: number, vs: number, h: number): void {
    const n = this.n, twr = this.twr, twi = this.twi;
    const d = h * es, sv = n / (2 * h), sw = n / (4 * h);
    for (let g = 0; g < n; g += 4 * h) {
      for (let t = 0; t < h; t++) {
        const vr = twr[t * sv], vi = -twi[t * sv], wr = twr[t * sw], wi = -twi[t * sw];
        let a0 = off + (g + t) * es;
        for (let v = 0; v < n; v++, a0 += vs) {
          const a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
          const x0r = re[a0], x0i = im[a0], x1r = re[a1], x1i = im[a1];
          const x2r = re[a2], x2i = im[a2], x3r = re[a3], x3i = im[a3];
          const y1r = x1r * vr - x1i * vi, y1i = x1r * vi + x1i * vr;
          const y3r = x3r * vr - x3i * vi, y3i = x3r * vi + x3i * vr;
          const b0r = x0r + y1r, b0i = x0i + y1i, b1r = x0r - y1r, b1i = x0i - y1i;
          const b2r = x2r + y3r, b2i = x2i + y3i, b3r = x2r - y3r, b3i = x2i - y3i;
          const c2r = b2r * wr - b2i * wi, c2i = b2r * wi + b2i * wr;
          const c3r = -(b3r * wi + b3i * wr), c3i = b3r * wr - b3i * wi; // i w b3
          re[a0] = b0r + c2r; im[a0] = b0i + c2i;
          re[a2] = b0r - c2r; im[a2] = b0i - c2i;
          re[a1] = b1r + c3r; im[a1] = b1i + c3i;
          re[a3] = b1r - c3r; im[a3] = b1i - c3i;
        }
      }
    }
  }

  /**
   * Three fused radix-2 DIF stages (half-sizes h, h/2, h/4): an 8-point DFT of the samples at stride h/4,
   * output m holding frequency rev3(m), times the twiddle W_2h^(t rev3(m)).
   */
  private dif8(re: Float64Array, im: Float64Array, off: number, es: number, vs: number, h: number): void {
    const n = this.n, twr = this.twr, twi = this.twi, ts = n / (2 * h), C = Math.SQRT1_2;
    const q = h >> 2, d = q * es;
    for (let g = 0; g < n; g += 2 * h) {
      this.dft8(re, im, off + g * es, d, vs, -1);
      for (let t = 1; t < q; t++) {
        const k = t * ts;
        const w1r = twr[k], w1i = twi[k], w2r = twr[2 * k], w2i = twi[2 * k], w3r = twr[3 * k], w3i = twi[3 * k];
        const w4r = twr[4 * k], w4i = twi[4 * k], w5r = twr[5 * k], w5i = twi[5 * k];
        const w6r = twr[6 * k], w6i = twi[6 * k], w7r = twr[7 * k], w7i = twi[7 * k];
        let a0 = off + (g + t) * es;
        for (let v = 0; v < n; v++, a0 += vs) {
          const a1 = a0 + d, a2 = a1 + d, a3 = a2 + d, a4 = a3 + d, a5 = a4 + d, a6 = a5 + d, a7 = a6 + d;
          let xr = re[a0], xi = im[a0], yr = re[a4], yi = im[a4];
          const p0r = xr + yr, p0i = xi + yi, q0r = xr - yr, q0i = xi - yi;
          xr = re[a1]; xi = im[a1]; yr = re[a5]; yi = im[a5];
          const p1r = xr + yr, p1i = xi + yi;
          let ur = xr - yr, ui = xi - yi;
          const q1r = C * (ur + ui), q1i = C * (ui - ur); // W8^1 = C (1 - i)
          xr = re[a2]; xi = im[a2]; yr = re[a6]; yi = im[a6];
          const p2r = xr + yr, p2i = xi + yi, q2r = xi - yi, q2i = yr - xr; // W8^2 = -i
          xr = re[a3]; xi = im[a3]; yr = re[a7]; yi = im[a7];
          const p3r = xr + yr, p3i = xi + yi;
          ur = xr - yr; ui = xi - yi;
          const q3r = C * (ui - ur), q3i = -C * (ur + ui); // W8^3 = -C (1 + i)
          // second stage
          const s0r = p0r + p2r, s0i = p0i + p2i, s2r = p0r - p2r, s2i = p0i - p2i;
          const s1r = p1r + p3r, s1i = p1i + p3i, s3r = p1i - p3i, s3i = p3r - p1r;
          const r0r = q0r + q2r, r0i = q0i + q2i, r2r = q0r - q2r, r2i = q0i - q2i;
          const r1r = q1r + q3r, r1i = q1i + q3i, r3r = q1i - q3i, r3i = q3r - q1r;
          // third stage and output twiddles: y_m -> frequency rev3(m) = 0 4 2 6 1 5 3 7
          re[a0] = s0r + s1r; im[a0] = s0i + s1i;
          ur = s0r - s1r; ui = s0i - s1i;
          re[a1] = ur * w4r - ui * w4i; im[a1] = ur * w4i + ui * w4r;
          ur = s2r + s3r; ui = s2i + s3i;
          re[a2] = ur * w2r - ui * w2i; im[a2] = ur * w2i + ui * w2r;
          ur = s2r - s3r; ui = s2i - s3i;
          re[a3] = ur * w6r - ui * w6i; im[a3] = ur * w6i + ui * w6r;
          ur = r0r + r1r; ui = r0i + r1i;
          re[a4] = ur * w1r - ui * w1i; im[a4] = ur * w1i + ui * w1r;
          ur = r0r - r1r; ui = r0i - r1i;
          re[a5] = ur * w5r - ui * w5i; im[a5] = ur * w5i + ui * w5r;
          ur = r2r + r3r; ui = r2i + r3i;
          re[a6] = ur * w3r - ui * w3i; im[a6] = ur * w3i + ui * w3r;
          ur = r2r - r3r; ui = r2i - r3i;
          re[a7] = ur * w7r - ui * w7i; im[a7] = ur * w7i + ui * w7r;
        }
      }
    }
  }

  /** Adjoint of dif8 (input twiddles conjugated, then the adjoint 8-point network); half-size h of its first stage. */
  private dit8(re: Float64Array, im: Float64Array, off: number, es: number, vs: number, h: number): void {
    // dif8 ran with half-size H = 4h (its smallest stage has half-size h)
    const n = this.n, twr = this.twr, twi = this.twi, ts = n / (8 * h), C = Math.SQRT1_2;
    const d = h * es;
    for (let g = 0; g < n; g += 8 * h) {
      this.dft8(re, im, off + g * es, d, vs, 1);
      for (let t = 1; t < h; t++) {
        const k = t * ts;
        const w1r = twr[k], w1i = -twi[k], w2r = twr[2 * k], w2i = -twi[2 * k], w3r = twr[3 * k], w3i = -twi[3 * k];
        const w4r = twr[4 * k], w4i = -twi[4 * k], w5r = twr[5 * k], w5i = -twi[5 * k];
        const w6r = twr[6 * k], w6i = -twi[6 * k], w7r = twr[7 * k], w7i = -twi[7 * k];
        let a0 = off + (g + t) * es;
        for (let v = 0; v < n; v++, a0 += vs) {
          const a1 = a0 + d, a2 = a1 + d, a3 = a2 + d, a4 = a3 + d, a5 = a4 + d, a6 = a5 + d, a7 = a6 + d;
          // conjugate input twiddles (position m holds frequency rev3(m))
          const z0r = re[a0], z0i = im[a0];
          let xr = re[a1], xi = im[a1];
          const z1r = xr * w4r - xi * w4i, z1i = xr * w4i + xi * w4r;
          xr = re[a2]; xi = im[a2];
          const z2r = xr * w2r - xi * w2i, z2i = xr * w2i + xi * w2r;
          xr = re[a3]; xi = im[a3];
          const z3r = xr * w6r - xi * w6i, z3i = xr * w6i + xi * w6r;
          xr = re[a4]; xi = im[a4];
          const z4r = xr * w1r - xi * w1i, z4i = xr * w1i + xi * w1r;
          xr = re[a5]; xi = im[a5];
          const z5r = xr * w5r - xi * w5i, z5i = xr * w5i + xi * w5r;
          xr = re[a6]; xi = im[a6];
          const z6r = xr * w3r - xi * w3i, z6i = xr * w3i + xi * w3r;
          xr = re[a7]; xi = im[a7];
          const z7r = xr * w7r - xi * w7i, z7i = xr * w7i + xi * w7r;
          // adjoint third stage
          const s0r = z0r + z1r, s0i = z0i + z1i, s1r = z0r - z1r, s1i = z0i - z1i;
          const s2r = z2r + z3r, s2i = z2i + z3i, s3r = z2r - z3r, s3i = z2i - z3i;
          const r0r = z4r + z5r, r0i = z4i + z5i, r1r = z4r - z5r, r1i = z4i - z5i;
          const r2r = z6r + z7r, r2i = z6i + z7i, r3r = z6r - z7r, r3i = z6i - z7i;
          // adjoint second stage: (u + v, u - v) on (0, 2); (u + i v, u - i v) on (1, 3)
          const p0r = s0r + s2r, p0i = s0i + s2i, p2r = s0r - s2r, p2i = s0i - s2i;
          const p1r = s1r - s3i, p1i = s1i + s3r, p3r = s1r + s3i, p3i = s1i - s3r;
          const q0r = r0r + r2r, q0i = r0i + r2i, q2r = r0r - r2r, q2i = r0i - r2i;
          const q1r = r1r - r3i, q1i = r1i + r3r, q3r = r1r + r3i, q3i = r1i - r3r;
          // adjoint first stage: x_m = p_m + conj(W8^m) q_m, x_m+4 = p_m - conj(W8^m) q_m
          re[a0] = p0r + q0r; im[a0] = p0i + q0i;
          re[a4] = p0r - q0r; im[a4] = p0i - q0i;
          let ur = C * (q1r - q1i), ui = C * (q1r + q1i); // C (1 + i) q1
          re[a1] = p1r + ur; im[a1] = p1i + ui;
          re[a5] = p1r - ur; im[a5] = p1i - ui;
          ur = -q2i; ui = q2r; // i q2
          re[a2] = p2r + ur; im[a2] = p2i + ui;
          re[a6] = p2r - ur; im[a6] = p2i - ui;
          ur = -C * (q3r + q3i); ui = C * (q3r - q3i); // C (-1 + i) q3
          re[a3] = p3r + ur; im[a3] = p3i + ui;
          re[a7] = p3r - ur; im[a7] = p3i - ui;
        }
      }
    }
  }

  /**
   * The twiddle-free (t = 0) case of dif8 (sign -1) and dit8 (sign +1): an 8-point DFT of the samples
   * a0 + m d (m = 0..7), bit-reversed output (dif8) or input (dit8), for the N vectors a0 + v vs.
   */
  private dft8(re: Float64Array, im: Float64Array, start: number, d: number, vs: number, sign: -1 | 1): void {
    const n = this.n, C = Math.SQRT1_2;
    let a0 = start;
    if (sign < 0) {
      for (let v = 0; v < n; v++, a0 += vs) {
        const a1 = a0 + d, a2 = a1 + d, a3 = a2 + d, a4 = a3 + d, a5 = a4 + d, a6 = a5 + d, a7 = a6 + d;
        let xr = re[a0], xi = im[a0], yr = re[a4], yi = im[a4];
        const p0r = xr + yr, p0i = xi + yi, q0r = xr - yr, q0i = xi - yi;
        xr = re[a1]; xi = im[a1]; yr = re[a5]; yi = im[a5];
        const p1r = xr + yr, p1i = xi + yi;
        let ur = xr - yr, ui = xi - yi;
        const q1r = C * (ur + ui), q1i = C * (ui - ur);
        xr = re[a2]; xi = im[a2]; yr = re[a6]; yi = im[a6];
        const p2r = xr + yr, p2i = xi + yi, q2r = xi - yi, q2i = yr - xr;
        xr = re[a3]; xi = im[a3]; yr = re[a7]; yi = im[a7];
        const p3r = xr + yr, p3i = xi + yi;
        ur = xr - yr; ui = xi - yi;
        const q3r = C * (ui - ur), q3i = -C * (ur + ui);
        const s0r = p0r + p2r, s0i = p0i + p2i, s2r = p0r - p2r, s2i = p0i - p2i;
        const s1r = p1r + p3r, s1i = p1i + p3i, s3r = p1i - p3i, s3i = p3r - p1r;
        const r0r = q0r + q2r, r0i = q0i + q2i, r2r = q0r - q2r, r2i = q0i - q2i;
        const r1r = q1r + q3r, r1i = q1i + q3i, r3r = q1i - q3i, r3i = q3r - q1r;
        re[a0] = s0r + s1r; im[a0] = s0i + s1i;
        re[a1] = s0r - s1r; im[a1] = s0i - s1i;
        re[a2] = s2r + s3r; im[a2] = s2i + s3i;
        re[a3] = s2r - s3r; im[a3] = s2i - s3i;
        re[a4] = r0r + r1r; im[a4] = r0i + r1i;
        re[a5] = r0r - r1r; im[a5] = r0i - r1i;
        re[a6] = r2r + r3r; im[a6] = r2i + r3i;
        re[a7] = r2r - r3r; im[a7] = r2i - r3i;
      }
      return;
    }
    for (let v = 0; v < n; v++, a0 += vs) {
      const a1 = a0 + d, a2 = a1 + d, a3 = a2 + d, a4 = a3 + d, a5 = a4 + d, a6 = a5 + d, a7 = a6 + d;
      const z0r = re[a0], z0i = im[a0], z1r = re[a1], z1i = im[a1], z2r = re[a2], z2i = im[a2], z3r = re[a3], z3i = im[a3];
      const s0r = z0r + z1r, s0i = z0i + z1i, s1r = z0r - z1r, s1i = z0i - z1i;
      const s2r = z2r + z3r, s2i = z2i + z3i, s3r = z2r - z3r, s3i = z2i - z3i;
      const z4r = re[a4], z4i = im[a4], z5r = re[a5], z5i = im[a5], z6r = re[a6], z6i = im[a6], z7r = re[a7], z7i = im[a7];
      const r0r = z4r + z5r, r0i = z4i + z5i, r1r = z4r - z5r, r1i = z4i - z5i;
      const r2r = z6r + z7r, r2i = z6i + z7i, r3r = z6r - z7r, r3i = z6i - z7i;
      const p0r = s0r + s2r, p0i = s0i + s2i, p2r = s0r - s2r, p2i = s0i - s2i;
      const p1r = s1r - s3i, p1i = s1i + s3r, p3r = s1r + s3i, p3i = s1i - s3r;
      const q0r = r0r + r2r, q0i = r0i + r2i, q2r = r0r - r2r, q2i = r0i - r2i;
      const q1r = r1r - r3i, q1i = r1i + r3r, q3r = r1r + r3i, q3i = r1i - r3r;
      re[a0] = p0r + q0r; im[a0] = p0i + q0i;
      re[a4] = p0r - q0r; im[a4] = p0i - q0i;
      let ur = C * (q1r - q1i), ui = C * (q1r + q1i);
      re[a1] = p1r + ur; im[a1] = p1i + ui;
      re[a5] = p1r - ur; im[a5] = p1i - ui;
      ur = -q2i; ui = q2r;
      re[a2] = p2r + ur; im[a2] = p2i + ui;
      re[a6] = p2r - ur; im[a6] = p2i - ui;
      ur = -C * (q3r + q3i); ui = C * (q3r - q3i);
      re[a3] = p3r + ur; im[a3] = p3i + ui;
      re[a7] = p3r - ur; im[a7] = p3i - ui;
    }
  }
}
