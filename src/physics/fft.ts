/**
 * Orthonormal, centred 2-D FFT of N x N interleaved complex frames (N a power of two).
 *
 *   forward:  X[k] = 1/N sum_n x[n] exp(-2 pi i (k - N/2) . (n - N/2) / N)     (k, n in {0..N-1}^2)
 *
 * i.e. fftshift(fft2(ifftshift(x)), norm="ortho"): the zero frequency sits at (N/2, N/2), a field centred at
 * (N/2, N/2) has no linear phase in the other domain, sum |X|^2 = sum |x|^2, and inverse = forward^H.
 * Per dimension, exp(-2 pi i (k - N/2)(n - N/2)/N) = (-1)^(N/2) (-1)^k (-1)^n exp(-2 pi i k n / N); in 2-D the two
 * (-1)^(N/2) factors cancel, so centring is a checkerboard (-1)^(y + x) applied before and after a plain DFT.
 * The inverse uses conj(DFT(conj(.))). Rows then columns, through double-precision scratch.
 */
import FFT from "fft.js";
import type { Buf } from "./complex.js";

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0;
}

export class FFT2 {
  readonly n: number;
  private readonly fft: FFT;
  private readonly line: Float64Array;
  private readonly lineOut: Float64Array;
  private readonly work: Float64Array;

  constructor(n: number) {
    if (!isPowerOfTwo(n)) throw new Error(`FFT2: frame size must be a power of two >= 2, got ${n}`);
    this.n = n;
    this.fft = new FFT(n);
    this.line = new Float64Array(2 * n);
    this.lineOut = new Float64Array(2 * n);
    this.work = new Float64Array(2 * n * n);
  }

  /** In-place forward transform of frame `frame` (offset frame * 2N^2) of `data`. */
  forward(data: Buf, frame = 0): void {
    this.run(data, frame * 2 * this.n * this.n, 1);
  }

  /** In-place inverse (= adjoint) transform of frame `frame` of `data`. */
  inverse(data: Buf, frame = 0): void {
    this.run(data, frame * 2 * this.n * this.n, -1);
  }

  /** Forward transform of `count` contiguous frames starting at frame `first`. */
  forwardStack(data: Buf, count = data.length / (2 * this.n * this.n), first = 0): void {
    for (let f = first; f < first + count; f++) this.forward(data, f);
  }

  /** Inverse transform of `count` contiguous frames starting at frame `first`. */
  inverseStack(data: Buf, count = data.length / (2 * this.n * this.n), first = 0): void {
    for (let f = first; f < first + count; f++) this.inverse(data, f);
  }

  /** conj = -1 for the inverse: conjugate on the way in and out, so the forward kernel serves both. */
  private run(data: Buf, offset: number, conj: 1 | -1): void {
    const { n, fft, line, lineOut, work } = this;
    if (offset < 0 || offset + 2 * n * n > data.length) {
      throw new Error(`FFT2: frame at offset ${offset} exceeds an array of ${data.length} floats (N=${n})`);
    }
    for (let y = 0; y < n; y++) {
      const row = offset + 2 * n * y;
      for (let x = 0; x < n; x++) {
        const s = (x + y) & 1 ? -1 : 1;
        line[2 * x] = s * data[row + 2 * x];
        line[2 * x + 1] = s * conj * data[row + 2 * x + 1];
      }
      fft.transform(lineOut, line);
      work.set(lineOut, 2 * n * y);
    }
    const scale = 1 / n;
    for (let x = 0; x < n; x++) {
      for (let y = 0; y < n; y++) {
        const w = 2 * (n * y + x);
        line[2 * y] = work[w];
        line[2 * y + 1] = work[w + 1];
      }
      fft.transform(lineOut, line);
      for (let y = 0; y < n; y++) {
        const s = (x + y) & 1 ? -scale : scale;
        const d = offset + 2 * (n * y + x);
        data[d] = s * lineOut[2 * y];
        data[d + 1] = s * conj * lineOut[2 * y + 1];
      }
    }
  }
}

const shared = new Map<number, FFT2>();

/** A shared FFT2 for size n (one per size per thread; its scratch is reused by every caller). */
export function fft2(n: number): FFT2 {
  let f = shared.get(n);
  if (!f) {
    f = new FFT2(n);
    shared.set(n, f);
  }
  return f;
}
