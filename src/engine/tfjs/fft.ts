/**
 * Complex numbers as split float32 planes and the centred orthonormal 2-D FFT of src/physics/fft.ts on tfjs.
 *
 * A complex tensor is { re, im }, two float32 tensors of one shape. tfjs's complex64 dtype is not used:
 * tf.matMul rejects it, and the DFT below is matrix products (bench/tfjs.ts measures both representations).
 *
 * The centred orthonormal DFT of one axis is the symmetric unitary matrix
 *   C[k, n] = exp(-2 pi i (k - N/2)(n - N/2) / N) / sqrt(N),
 * so F X = C X C (rows, then columns) and F^H Y = conj(C) Y conj(C): no fftshift, no checkerboard, and both
 * transforms are four real matrix products per axis ([L N, N] x [N, N] for rows, a broadcast batched
 * [1, N, N] x [L, N, N] for columns). "matmul" costs 16 N^3 flops per frame against ~5 N^2 log2 N for an FFT,
 * but it runs as a handful of large GEMMs: on tfjs's CPU backend it is 40-50x faster than tf.spectral.fft
 * (whose JS radix-2 kernel allocates tensors in its recursion), and on a GPU cuBLAS runs it at a large fraction
 * of peak for N <= 64 (see docs/gpu.md for the arithmetic and what is measured and what is not).
 * "spectral": tf.spectral.fft along rows, transposes, fft again (cuFFT through libtensorflow on a GPU), with the
 * centring as a checkerboard (-1)^(y + x) before and after (the two (-1)^(N/2) factors of the 1-D centring
 * cancel in 2-D) and the 1/N (forward) or N (inverse, tf.spectral.ifft divides by N per axis) folded into it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { isPowerOfTwo } from "../../physics/fft.js";

/** A complex tensor as split planes (same shape). */
export interface Cx {
  re: tf.Tensor;
  im: tf.Tensor;
}

export type FftMethod = "matmul" | "spectral";

export function cmul(a: Cx, b: Cx): Cx {
  return { re: tf.sub(tf.mul(a.re, b.re), tf.mul(a.im, b.im)), im: tf.add(tf.mul(a.re, b.im), tf.mul(a.im, b.re)) };
}

/** conj(a) . b */
export function cmulConj(a: Cx, b: Cx): Cx {
  return { re: tf.add(tf.mul(a.re, b.re), tf.mul(a.im, b.im)), im: tf.sub(tf.mul(a.re, b.im), tf.mul(a.im, b.re)) };
}

/** a . s for a real s (broadcast like tf.mul). */
export function cscale(a: Cx, s: tf.Tensor | number): Cx {
  return { re: tf.mul(a.re, s), im: tf.mul(a.im, s) };
}

export function cadd(a: Cx, b: Cx): Cx {
  return { re: tf.add(a.re, b.re), im: tf.add(a.im, b.im) };
}

export function abs2(a: Cx): tf.Tensor {
  return tf.add(tf.square(a.re), tf.square(a.im));
}

export function creshape(a: Cx, shape: number[]): Cx {
  return { re: tf.reshape(a.re, shape), im: tf.reshape(a.im, shape) };
}

export function csum(a: Cx, axis: number): Cx {
  return { re: tf.sum(a.re, axis), im: tf.sum(a.im, axis) };
}

export function cdispose(...xs: (Cx | null | undefined)[]): void {
  for (const x of xs) {
    if (!x) continue;
    x.re.dispose();
    x.im.dispose();
  }
}

/** The tensors of a Cx, for tf.tidy return values and keep lists. */
export function ctensors(a: Cx): tf.Tensor[] {
  return [a.re, a.im];
}

/** Centred orthonormal 2-D FFT over the last two axes (both N) of split-plane complex tensors of rank >= 2. */
export class CenteredFft2 {
  readonly n: number;
  readonly method: FftMethod;
  private readonly cr: tf.Tensor2D;
  private readonly ci: tf.Tensor2D;
  private readonly ciNeg: tf.Tensor2D;
  private readonly cr3: tf.Tensor3D;
  private readonly ci3: tf.Tensor3D;
  private readonly ciNeg3: tf.Tensor3D;
  private readonly cbForward: tf.Tensor2D;
  private readonly cbInverse: tf.Tensor2D;
  private readonly checker: tf.Tensor2D;

  /** `place` moves each constant to the compute device once (TfjsEngine.toDevice); default: as created. */
  constructor(n: number, method: FftMethod = "matmul", place: <T extends tf.Tensor>(t: T) => T = (t) => t) {
    if (!isPowerOfTwo(n)) throw new Error(`tfjs engine: frame size must be a power of two >= 2, got ${n}`);
    this.n = n;
    this.method = method;
    const re = new Float32Array(n * n), im = new Float32Array(n * n), cb = new Float32Array(n * n);
    const s = 1 / Math.sqrt(n);
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < n; j++) {
        // exact phase reduction: (k - N/2)(j - N/2) mod N, then one cos / sin in float64
        const m = (((k - n / 2) * (j - n / 2)) % n + n) % n;
        const ph = (-2 * Math.PI * m) / n;
        re[k * n + j] = s * Math.cos(ph);
        im[k * n + j] = s * Math.sin(ph);
        cb[k * n + j] = (k + j) & 1 ? -1 : 1;
      }
    }
    this.cr = place(tf.tensor2d(re, [n, n]));
    this.ci = place(tf.tensor2d(im, [n, n]));
    this.ciNeg = place(tf.tensor2d(im.map((v) => -v), [n, n]));
    this.cr3 = tf.reshape(this.cr, [1, n, n]);
    this.ci3 = tf.reshape(this.ci, [1, n, n]);
    this.ciNeg3 = tf.reshape(this.ciNeg, [1, n, n]);
    this.checker = place(tf.tensor2d(cb, [n, n]));
    this.cbForward = place(tf.tensor2d(cb.map((v) => v / n), [n, n]));
    this.cbInverse = place(tf.tensor2d(cb.map((v) => v * n), [n, n]));
  }

  forward(x: Cx): Cx {
    return this.method === "matmul" ? this.matmul(x, this.ci, this.ci3) : this.spectral(x, false);
  }

  inverse(x: Cx): Cx {
    return this.method === "matmul" ? this.matmul(x, this.ciNeg, this.ciNeg3) : this.spectral(x, true);
  }

  /** X -> M X M with M = cr + i mi (M symmetric), as 8 real matrix products. */
  private matmul(x: Cx, mi: tf.Tensor2D, mi3: tf.Tensor3D): Cx {
    const n = this.n, shape = x.re.shape;
    const lead = x.re.size / (n * n);
    const [re, im] = tf.tidy(() => {
      const ar = tf.reshape(x.re, [lead * n, n]), ai = tf.reshape(x.im, [lead * n, n]);
      // rows: Z = X M
      const zr = tf.reshape(tf.sub(tf.matMul(ar, this.cr), tf.matMul(ai, mi)), [lead, n, n]);
      const zi = tf.reshape(tf.add(tf.matMul(ar, mi), tf.matMul(ai, this.cr)), [lead, n, n]);
      // columns: Y = M Z (M broadcast over the batch)
      const yr = tf.sub(tf.matMul(this.cr3, zr), tf.matMul(mi3, zi));
      const yi = tf.add(tf.matMul(this.cr3, zi), tf.matMul(mi3, zr));
      return [tf.reshape(yr, shape), tf.reshape(yi, shape)];
    });
    return { re, im };
  }

  private spectral(x: Cx, inverse: boolean): Cx {
    const rank = x.re.rank;
    const perm = [...Array(rank).keys()];
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
    const [re, im] = tf.tidy(() => {
      const pass = (r: tf.Tensor, i: tf.Tensor): [tf.Tensor, tf.Tensor] => {
        const c = tf.complex(r, i);
        const f = inverse ? tf.spectral.ifft(c) : tf.spectral.fft(c);
        return [tf.transpose(tf.real(f), perm), tf.transpose(tf.imag(f), perm)];
      };
      const [r1, i1] = pass(tf.mul(x.re, this.checker), tf.mul(x.im, this.checker));
      const [r2, i2] = pass(r1, i1);
      const scale = inverse ? this.cbInverse : this.cbForward;
      return [tf.mul(r2, scale), tf.mul(i2, scale)];
    });
    return { re, im };
  }

  dispose(): void {
    for (const t of [this.cr, this.ci, this.ciNeg, this.cr3, this.ci3, this.ciNeg3, this.checker, this.cbForward, this.cbInverse]) t.dispose();
  }
}
