/** Deterministic test data and float64 reference helpers shared by the physics and sim suites. */

/** mulberry32: a small seeded generator of uniforms in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Array of `length` uniforms in [lo, hi). */
export function randomArray(rand: () => number, length: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}

/** Real inner product sum a_i b_i (for complex interleaved arrays: Re <a, b>). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Naive centred orthonormal 2-D DFT (sign -1 forward, +1 inverse) in float64. */
export function naiveCentredDft(x: ArrayLike<number>, n: number, sign: -1 | 1): Float64Array {
  const out = new Float64Array(2 * n * n);
  for (let ky = 0; ky < n; ky++) {
    for (let kx = 0; kx < n; kx++) {
      let re = 0, im = 0;
      for (let y = 0; y < n; y++) {
        for (let xx = 0; xx < n; xx++) {
          const ph = (sign * 2 * Math.PI * ((ky - n / 2) * (y - n / 2) + (kx - n / 2) * (xx - n / 2))) / n;
          const c = Math.cos(ph), s = Math.sin(ph);
          const a = x[2 * (n * y + xx)], b = x[2 * (n * y + xx) + 1];
          re += a * c - b * s;
          im += a * s + b * c;
        }
      }
      out[2 * (n * ky + kx)] = re / n;
      out[2 * (n * ky + kx) + 1] = im / n;
    }
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Naive float64 sub-pixel shift of one N x N mode: naive centred DFT, phase ramp, naive inverse. */
export function naiveShift(mode: ArrayLike<number>, n: number, fy: number, fx: number): Float64Array {
  const spec = naiveCentredDft(mode, n, -1);
  for (let ky = 0; ky < n; ky++) {
    for (let kx = 0; kx < n; kx++) {
      const ph = (-2 * Math.PI * ((ky - n / 2) * fy + (kx - n / 2) * fx)) / n;
      const i = 2 * (n * ky + kx), re = spec[i], im = spec[i + 1];
      spec[i] = re * Math.cos(ph) - im * Math.sin(ph);
      spec[i + 1] = re * Math.sin(ph) + im * Math.cos(ph);
    }
  }
  return naiveCentredDft(spec, n, 1);
}
