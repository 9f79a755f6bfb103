/**
 * Interleaved complex arrays: element i is (a[2i], a[2i + 1]) = (re, im). Float32Array in production;
 * the physics functions also accept Float64Array so tests can run them in double precision.
 */

export type Buf = Float32Array | Float64Array;

/** out = a . b (element-wise complex product over n elements). out may alias a or b. */
export function mul(a: Buf, b: Buf, out: Buf, n = a.length >> 1): void {
  for (let i = 0; i < 2 * n; i += 2) {
    const ar = a[i], ai = a[i + 1], br = b[i], bi = b[i + 1];
    out[i] = ar * br - ai * bi;
    out[i + 1] = ar * bi + ai * br;
  }
}

/** out = conj(a) . b over n elements. out may alias a or b. */
export function conjMul(a: Buf, b: Buf, out: Buf, n = a.length >> 1): void {
  for (let i = 0; i < 2 * n; i += 2) {
    const ar = a[i], ai = a[i + 1], br = b[i], bi = b[i + 1];
    out[i] = ar * br + ai * bi;
    out[i + 1] = ar * bi - ai * br;
  }
}

/** out[i] += |z_i|^2 for the n complex elements of z starting at element zOffset. */
export function addAbs2(z: Buf, out: Buf, n: number, zOffset = 0): void {
  for (let i = 0, k = 2 * zOffset; i < n; i++, k += 2) out[i] += z[k] * z[k] + z[k + 1] * z[k + 1];
}

/** <a, b> = sum conj(a_i) b_i, accumulated in double precision, as [re, im]. */
export function innerProduct(a: Buf, b: Buf): [number, number] {
  let re = 0, im = 0;
  for (let i = 0; i < a.length; i += 2) {
    re += a[i] * b[i] + a[i + 1] * b[i + 1];
    im += a[i] * b[i + 1] - a[i + 1] * b[i];
  }
  return [re, im];
}
