/**
 * Links from the shared real variables to the complex object (DESIGN.md "Link"):
 *
 *   linear:       O = sum_e a_e c_e + i y                                  (y: free real map)
 *   exponential:  O = exp(-k sum_e (beta_e + i delta_e) c_e - k (beta_m + i delta_m) m)   (m: matrix map)
 *
 * Maps are real H x W arrays keyed by element symbol; the free map is y (linear) or m (exponential).
 * linkVjp turns the Wirtinger gradient G = dL/dO* into real gradients dL/dtheta = 2 Re(G . conj(dO/dtheta)).
 */
import type { LinkSpec } from "../scan/model.js";
import type { Buf } from "./complex.js";

type Maps = Record<string, ArrayLike<number>>;

/**
 * The link as z = sum_e (re_e + i im_e) c_e + (freeRe + i freeIm) free, with O = z (linear) or O = exp(z)
 * (exponential): linear re_e = a_e, im_e = 0, free = i; exponential re = -k beta, im = -k delta.
 */
function coefficients(spec: LinkSpec, symbols: string[]): { re: number[]; im: number[]; freeRe: number; freeIm: number } {
  if (spec.type === "linear") {
    return { re: symbols.map((s) => spec.weights[s] ?? 1), im: symbols.map(() => 0), freeRe: 0, freeIm: 1 };
  }
  if (spec.type === "exponential") {
    const c = symbols.map((s) => {
      const v = spec.coefficients[s];
      if (!v) throw new Error(`exponential link: no beta/delta for element ${s} (have ${Object.keys(spec.coefficients).join(", ")})`);
      return v;
    });
    return {
      re: c.map((v) => -spec.k * v.beta),
      im: c.map((v) => -spec.k * v.delta),
      freeRe: -spec.k * spec.matrix.beta,
      freeIm: -spec.k * spec.matrix.delta,
    };
  }
  throw new Error(`unknown link type "${(spec as { type: string }).type}" (linear, exponential)`);
}

function pixelCount(maps: Maps, free: ArrayLike<number>): number {
  for (const [el, m] of Object.entries(maps)) {
    if (m.length !== free.length) throw new Error(`link: map ${el} has ${m.length} pixels, free map ${free.length}`);
  }
  return free.length;
}

/** The complex object (interleaved, 2 x pixels) for the given maps; written into `out` when given. */
export function applyLink(spec: LinkSpec, maps: Maps, free: ArrayLike<number>): Float32Array;
export function applyLink<T extends Buf>(spec: LinkSpec, maps: Maps, free: ArrayLike<number>, out: T): T;
export function applyLink(spec: LinkSpec, maps: Maps, free: ArrayLike<number>, out?: Buf): Buf {
  const symbols = Object.keys(maps), np = pixelCount(maps, free);
  const o = out ?? new Float32Array(2 * np);
  const c = coefficients(spec, symbols);
  const cm = symbols.map((s) => maps[s]);
  for (let p = 0; p < np; p++) {
    let re = c.freeRe * free[p], im = c.freeIm * free[p];
    for (let e = 0; e < cm.length; e++) {
      re += c.re[e] * cm[e][p];
      im += c.im[e] * cm[e][p];
    }
    if (spec.type === "linear") {
      o[2 * p] = re;
      o[2 * p + 1] = im;
    } else {
      const a = Math.exp(re);
      o[2 * p] = a * Math.cos(im);
      o[2 * p + 1] = a * Math.sin(im);
    }
  }
  return o;
}

/**
 * Vector-Jacobian product of the link: given G = dL/dO* (interleaved complex) and the object O = applyLink(...)
 * at the same maps, write dL/dc_e into gMaps[e] and dL/d(free map) into gFree (overwriting them).
 */
export function linkVjp(
  spec: LinkSpec, maps: Maps, free: ArrayLike<number>, object: ArrayLike<number>, gObject: ArrayLike<number>,
  gMaps: Record<string, Buf>, gFree: Buf,
): void {
  const symbols = Object.keys(maps), np = pixelCount(maps, free);
  const c = coefficients(spec, symbols);
  const gm = symbols.map((s) => {
    if (!gMaps[s]) throw new Error(`linkVjp: no gradient buffer for element ${s}`);
    return gMaps[s];
  });
  for (let p = 0; p < np; p++) {
    let tr = gObject[2 * p], ti = gObject[2 * p + 1];
    if (spec.type === "exponential") {
      // dO/dtheta = O (cre + i cim): 2 Re(G conj(O) (cre - i cim)) = 2 (cre Re t + cim Im t), t = G conj(O)
      const or = object[2 * p], oi = object[2 * p + 1];
      const r = tr * or + ti * oi;
      ti = ti * or - tr * oi;
      tr = r;
    }
    for (let e = 0; e < gm.length; e++) gm[e][p] = 2 * (c.re[e] * tr + c.im[e] * ti);
    gFree[p] = 2 * (c.freeRe * tr + c.freeIm * ti);
  }
}
