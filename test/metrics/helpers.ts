/** Deterministic random data for the metrics and report suites. */

import { seeded } from "../physics/helpers.js";

export { seeded };

/** Standard normal deviates (Box-Muller). */
export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export function randomArray(rand: () => number, length: number, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}

/** out = a * x + b for an interleaved complex x and complex a = [ar, ai], b = [br, bi]. */
export function affine(x: ArrayLike<number>, a: [number, number], b: [number, number] = [0, 0]): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += 2) {
    out[i] = a[0] * x[i] - a[1] * x[i + 1] + b[0];
    out[i + 1] = a[0] * x[i + 1] + a[1] * x[i] + b[1];
  }
  return out;
}

/** A smooth complex test object exp(i phi) * amplitude on H x W. */
export function testObject(height: number, width: number): Float64Array {
  const o = new Float64Array(2 * height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const phi = 0.8 * Math.sin((2 * Math.PI * x) / width) * Math.cos((3 * Math.PI * y) / height) + 0.3 * ((x * y) % 7) / 7;
      const amp = 0.7 + 0.3 * Math.cos((2 * Math.PI * (x + 2 * y)) / (width + height));
      o[2 * (y * width + x)] = amp * Math.cos(phi);
      o[2 * (y * width + x) + 1] = amp * Math.sin(phi);
    }
  }
  return o;
}
