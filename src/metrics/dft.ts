/**
 * Plain (unnormalised, uncentred) discrete Fourier transforms of any length, for the metrics (FRC): objects are
 * not powers of two (e.g. 154 x 154) and not always square, which physics/fft.ts (N x N, N = 2^k) does not cover.
 *
 *   X[k] = sum_{n=0}^{N-1} x[n] exp(-2 pi i k n / N)
 *
 * Power-of-two lengths use fft.js directly; other lengths use Bluestein's chirp-z algorithm on a power-of-two
 * fft.js of length >= 2N - 1 (kn = (k^2 + n^2 - (k - n)^2) / 2), so every length costs O(N log N). Chirp angles
 * are reduced with n^2 mod 2N before scaling, so they stay exact for large N. Double precision throughout.
 */
import FFT from "fft.js";

function isPowerOfTwo(n: number): boolean {
  return n >= 2 && (n & (n - 1)) === 0;
}

interface Bluestein {
  /** Power-of-two convolution length >= 2N - 1. */
  m: number;
  big: FFT;
  /** exp(-i pi n^2 / N), n = 0..N-1. */
  chirp: Float64Array;
  /** FFT of the wrapped kernel b[j] = exp(+i pi j^2 / N), j = -(N-1)..N-1. */
  kernelHat: Float64Array;
  a: Float64Array;
  ahat: Float64Array;
}

/** A reusable 1-D forward DFT of length n over interleaved complex Float64Arrays. */
export class Dft1 {
  readonly n: number;
  private readonly fft?: FFT;
  private readonly scratch?: Float64Array;
  private readonly bluestein?: Bluestein;

  constructor(n: number) {
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`Dft1: length must be an integer >= 1, got ${n}`);
    this.n = n;
    if (n === 1) return;
    if (isPowerOfTwo(n)) {
      this.fft = new FFT(n);
      this.scratch = new Float64Array(2 * n);
      return;
    }
    let m = 2;
    while (m < 2 * n - 1) m *= 2;
    const big = new FFT(m);
    const chirp = new Float64Array(2 * n);
    for (let k = 0; k < n; k++) {
      const q = (Math.PI * ((k * k) % (2 * n))) / n;
      chirp[2 * k] = Math.cos(q);
      chirp[2 * k + 1] = -Math.sin(q);
    }
    const b = new Float64Array(2 * m);
    for (let k = 0; k < n; k++) {
      const re = chirp[2 * k], im = -chirp[2 * k + 1];
      b[2 * k] = re;
      b[2 * k + 1] = im;
      if (k > 0) {
        b[2 * (m - k)] = re;
        b[2 * (m - k) + 1] = im;
      }
    }
    const kernelHat = new Float64Array(2 * m);
    big.transform(kernelHat, b);
    this.bluestein = { m, big, chirp, kernelHat, a: new Float64Array(2 * m), ahat: new Float64Array(2 * m) };
  }

  /** In-place forward DFT of the n complex values of `data` starting at complex element `offset` with `stride`. */
  transform(data: Float64Array, offset = 0, stride = 1): void {
    const n = this.n;
    if (n === 1) return;
    if (this.fft && this.scratch) {
      this.fft.transform(this.scratch, gather(data, offset, stride, n, lineBuffer(n)));
      scatter(this.scratch, data, offset, stride, n);
      return;
    }
    const { m, big, chirp, kernelHat, a, ahat } = this.bluestein as Bluestein;
    a.fill(0);
    for (let k = 0; k < n; k++) {
      const d = 2 * (offset + k * stride);
      const xr = data[d], xi = data[d + 1], cr = chirp[2 * k], ci = chirp[2 * k + 1];
      a[2 * k] = xr * cr - xi * ci;
      a[2 * k + 1] = xr * ci + xi * cr;
    }
    big.transform(ahat, a);
    for (let k = 0; k < m; k++) {
      const xr = ahat[2 * k], xi = ahat[2 * k + 1], kr = kernelHat[2 * k], ki = kernelHat[2 * k + 1];
      ahat[2 * k] = xr * kr - xi * ki;
      ahat[2 * k + 1] = xr * ki + xi * kr;
    }
    big.inverseTransform(a, ahat);
    for (let k = 0; k < n; k++) {
      const d = 2 * (offset + k * stride);
      const xr = a[2 * k], xi = a[2 * k + 1], cr = chirp[2 * k], ci = chirp[2 * k + 1];
      data[d] = xr * cr - xi * ci;
      data[d + 1] = xr * ci + xi * cr;
    }
  }
}

const lines = new Map<number, Float64Array>();
function lineBuffer(n: number): Float64Array {
  let b = lines.get(n);
  if (!b) {
    b = new Float64Array(2 * n);
    lines.set(n, b);
  }
  return b;
}

function gather(data: Float64Array, offset: number, stride: number, n: number, out: Float64Array): Float64Array {
  for (let k = 0; k < n; k++) {
    const d = 2 * (offset + k * stride);
    out[2 * k] = data[d];
    out[2 * k + 1] = data[d + 1];
  }
  return out;
}

function scatter(line: Float64Array, data: Float64Array, offset: number, stride: number, n: number): void {
  for (let k = 0; k < n; k++) {
    const d = 2 * (offset + k * stride);
    data[d] = line[2 * k];
    data[d + 1] = line[2 * k + 1];
  }
}

/** In-place unnormalised forward 2-D DFT of an H x W interleaved complex image (rows, then columns). */
export function dft2(data: Float64Array, height: number, width: number): Float64Array {
  if (data.length !== 2 * height * width) {
    throw new Error(`dft2: ${data.length} floats is not a ${height} x ${width} complex image`);
  }
  const rows = new Dft1(width), cols = new Dft1(height);
  for (let y = 0; y < height; y++) rows.transform(data, y * width, 1);
  for (let x = 0; x < width; x++) cols.transform(data, x, width);
  return data;
}
