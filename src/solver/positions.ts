/**
 * Position refinement helpers: continuous window corners <-> scan windows, an update rule for the corners from
 * the engines' position gradients (EvalResult.gPositions), and an optional affine constraint.
 *
 * Units and conventions (src/physics/geometry.ts, src/physics/positionGradient.ts): positions are the
 * continuous top-left window corners in object pixels, (y, x) interleaved, [2 npos]; corner = p / dx + (H - N) / 2
 * for a position p in metres. gPositions[2 j], [2 j + 1] = dL/dcorner_y, dL/dcorner_x (loss per pixel); a
 * descent step moves a corner by -step * g.
 *
 * Typical loop (the solver wires it):
 *   const refiner = new PositionRefiner(npos, { method: "adam", rate: 0.1, maxStep: 0.5, bounds: windows });
 *   res = await engine.evaluate(state, { ptycho: true, ..., positionGradient: true });
 *   refiner.step(corners, res.gPositions!, batch);
 *   projectAffine(nominal, corners, { residual: 0 }).corners -> corners      (optional constraint)
 *   await engine.setWindows(windowsFromCorners(corners, windows, windows.n, { subpixel: true }));
 */
import { windowsFromCorners, type ScanWindows } from "../physics/geometry.js";

/** Windows from continuous corners live with the position convention (physics/geometry.ts). */
export { windowsFromCorners };

/** Object grid and window size, e.g. a ScanWindows. */
export interface GridShape {
  height: number;
  width: number;
  n: number;
}

/** Positions in metres (the scan file's convention, relative to the object centre) from corners. */
export function cornersToPositions_m(corners: ArrayLike<number>, pixelSize: number, grid: GridShape): Float64Array {
  const out = new Float64Array(corners.length);
  for (let j = 0; j < corners.length; j += 2) {
    out[j] = (corners[j] - (grid.height - grid.n) / 2) * pixelSize;
    out[j + 1] = (corners[j + 1] - (grid.width - grid.n) / 2) * pixelSize;
  }
  return out;
}

// ------------------------------------------------------------------------------------------ update rule

export interface PositionRefinerOptions {
  /**
   * "adam" (default): Adam per coordinate (beta1 0.9, beta2 0.999, bias-corrected per position, so positions
   * outside a mini-batch keep their state): each coordinate moves by about `rate` pixels per step while the
   * gradient's sign is consistent, independent of the loss scale.
   * "gradient": plain gradient descent, delta = -rate * g / g0, with g0 the RMS per-position gradient norm of
   * the first step (or `gradientScale`): the first step moves the RMS position by `rate` pixels, later steps
   * shrink with the gradient (converges on a quadratic for a small enough rate).
   */
  method?: "adam" | "gradient";
  /** Step size in pixels (default 0.1). Mutable on the instance (refiner.rate) for schedules. */
  rate?: number;
  /** Largest move of one position per step, in pixels (Euclidean; default 0.5). */
  maxStep?: number;
  beta1?: number;
  beta2?: number;
  /** "gradient": the gradient norm that maps to a step of `rate` pixels (default: from the first step). */
  gradientScale?: number;
  /** Keep corners inside [0, H - N] x [0, W - N] after each step (so the windows fit). */
  bounds?: GridShape;
}

export interface PositionStep {
  /** Largest and RMS move of the updated positions, in pixels. */
  maxShift: number;
  rmsShift: number;
  /** Positions whose move was limited by maxStep. */
  clamped: number;
}

export class PositionRefiner {
  readonly method: "adam" | "gradient";
  rate: number;
  readonly maxStep: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private gradientScale: number | null;
  private readonly bounds: GridShape | null;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private readonly t: Int32Array;

  constructor(readonly count: number, options: PositionRefinerOptions = {}) {
    this.method = options.method ?? "adam";
    if (this.method !== "adam" && this.method !== "gradient") throw new Error(`position refiner: unknown method "${this.method as string}" (adam, gradient)`);
    this.rate = options.rate ?? 0.1;
    this.maxStep = options.maxStep ?? 0.5;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.gradientScale = options.gradientScale ?? null;
    this.bounds = options.bounds ?? null;
    if (!(this.rate >= 0) || !(this.maxStep > 0)) throw new Error(`position refiner: rate must be >= 0 and maxStep > 0, got ${this.rate}, ${this.maxStep}`);
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) throw new Error("position refiner: beta1 and beta2 must lie in [0, 1)");
    this.m = new Float64Array(2 * count);
    this.v = new Float64Array(2 * count);
    this.t = new Int32Array(count);
  }

  /**
   * One update of `corners` (in place, [2 count]) from gPositions ([2 count], dL/dcorner); only the positions
   * in `batch` (all when absent) move. Non-finite gradients leave their position where it is.
   */
  step(corners: Float64Array, gPositions: ArrayLike<number>, batch?: ArrayLike<number>): PositionStep {
    const count = this.count;
    if (corners.length !== 2 * count || gPositions.length < 2 * count) {
      throw new Error(`position refiner: ${corners.length} corner values and ${gPositions.length} gradients for ${count} positions`);
    }
    const list = batch ?? Int32Array.from({ length: count }, (_, j) => j);
    if (this.method === "gradient" && this.gradientScale === null) {
      let s = 0, m = 0;
      for (let i = 0; i < list.length; i++) {
        const j = list[i], gy = gPositions[2 * j], gx = gPositions[2 * j + 1];
        if (Number.isFinite(gy) && Number.isFinite(gx)) {
          s += gy * gy + gx * gx;
          m++;
        }
      }
      const rms = m ? Math.sqrt(s / m) : 0;
      if (rms > 0) this.gradientScale = rms;
    }
    let maxShift = 0, sumSq = 0, clamped = 0, moved = 0;
    for (let i = 0; i < list.length; i++) {
      const j = list[i];
      if (!(Number.isInteger(j) && j >= 0 && j < count)) throw new Error(`position refiner: batch entry ${i} = ${j} outside ${count} positions`);
      const gy = gPositions[2 * j], gx = gPositions[2 * j + 1];
      if (!(Number.isFinite(gy) && Number.isFinite(gx))) continue;
      let dy: number, dx: number;
      if (this.method === "adam") {
        const t = ++this.t[j];
        const c1 = 1 - this.beta1 ** t, c2 = 1 - this.beta2 ** t;
        const d = [0, 0];
        for (const a of [0, 1]) {
          const g = a === 0 ? gy : gx, k = 2 * j + a;
          this.m[k] = this.beta1 * this.m[k] + (1 - this.beta1) * g;
          this.v[k] = this.beta2 * this.v[k] + (1 - this.beta2) * g * g;
          const vh = Math.sqrt(this.v[k] / c2);
          d[a] = vh > 0 ? (-this.rate * (this.m[k] / c1)) / vh : 0;
        }
        [dy, dx] = d;
      } else {
        const s = this.gradientScale ?? 0;
        dy = s > 0 ? (-this.rate * gy) / s : 0;
        dx = s > 0 ? (-this.rate * gx) / s : 0;
      }
      const len = Math.hypot(dy, dx);
      if (len > this.maxStep) {
        dy *= this.maxStep / len;
        dx *= this.maxStep / len;
        clamped++;
      }
      let y = corners[2 * j] + dy, x = corners[2 * j + 1] + dx;
      if (this.bounds) {
        const b = this.bounds;
        y = Math.min(Math.max(y, 0), b.height - b.n);
        x = Math.min(Math.max(x, 0), b.width - b.n);
      }
      const shift = Math.hypot(y - corners[2 * j], x - corners[2 * j + 1]);
      corners[2 * j] = y;
      corners[2 * j + 1] = x;
      maxShift = Math.max(maxShift, shift);
      sumSq += shift * shift;
      moved++;
    }
    return { maxShift, rmsShift: moved ? Math.sqrt(sumSq / moved) : 0, clamped };
  }

  /** Forget the moments of these positions (they jumped, e.g. by a grid search). */
  resetPositions(list: Iterable<number>): void {
    for (const j of list) {
      this.m[2 * j] = this.m[2 * j + 1] = this.v[2 * j] = this.v[2 * j + 1] = 0;
      this.t[j] = 0;
    }
  }

  /** Forget the Adam moments and the gradient scale (e.g. after a probe or object reset). */
  reset(): void {
    this.m.fill(0);
    this.v.fill(0);
    this.t.fill(0);
    this.gradientScale = null;
  }
}

// ------------------------------------------------------------------------------------------ affine constraint

/**
 * q = A p + t for points p = (y, x): y' = a[0] y + a[1] x + t[0], x' = a[2] y + a[3] x + t[1]. Models a
 * scan's global distortions (stage scale, skew, rotation, drift offset) in pixel units.
 */
export interface Affine {
  a: [number, number, number, number];
  t: [number, number];
}

export const IDENTITY_AFFINE: Affine = { a: [1, 0, 0, 1], t: [0, 0] };

/**
 * Least-squares affine map from `nominal` to `refined` points ((y, x) pairs): argmin sum_j w_j |A p_j + t - q_j|^2
 * (weights default 1). Centred normal equations; a degenerate layout (all points on a line or one point) is
 * resolved towards the identity (a tiny ridge on A - I), so it still returns a translation.
 */
export function fitAffine(nominal: ArrayLike<number>, refined: ArrayLike<number>, weights?: ArrayLike<number>): Affine {
  const count = nominal.length / 2;
  if (nominal.length % 2 !== 0 || refined.length !== nominal.length) {
    throw new Error(`fitAffine: ${nominal.length} nominal and ${refined.length} refined values (need equal (y, x) pairs)`);
  }
  if (weights && weights.length < count) throw new Error(`fitAffine: ${weights.length} weights for ${count} points`);
  let sw = 0, py = 0, px = 0, qy = 0, qx = 0;
  for (let j = 0; j < count; j++) {
    const w = weights ? weights[j] : 1;
    sw += w;
    py += w * nominal[2 * j]; px += w * nominal[2 * j + 1];
    qy += w * refined[2 * j]; qx += w * refined[2 * j + 1];
  }
  if (!(sw > 0)) throw new Error("fitAffine: no points with positive weight");
  py /= sw; px /= sw; qy /= sw; qx /= sw;
  // S = sum w dp dp^T (2x2), C = sum w dq dp^T
  let syy = 0, syx = 0, sxx = 0, cyy = 0, cyx = 0, cxy = 0, cxx = 0;
  for (let j = 0; j < count; j++) {
    const w = weights ? weights[j] : 1;
    const dy = nominal[2 * j] - py, dx = nominal[2 * j + 1] - px;
    const ey = refined[2 * j] - qy, ex = refined[2 * j + 1] - qx;
    syy += w * dy * dy; syx += w * dy * dx; sxx += w * dx * dx;
    cyy += w * ey * dy; cyx += w * ey * dx; cxy += w * ex * dy; cxx += w * ex * dx;
  }
  // A = (C + lambda I)(S + lambda I)^-1: the ridge pulls A towards I in directions the points do not span
  const lambda = 1e-9 * (syy + sxx) + 1e-300;
  const s00 = syy + lambda, s01 = syx, s11 = sxx + lambda;
  const det = s00 * s11 - s01 * s01;
  const i00 = s11 / det, i01 = -s01 / det, i11 = s00 / det;
  const c00 = cyy + lambda, c01 = cyx, c10 = cxy, c11 = cxx + lambda;
  const a: Affine["a"] = [c00 * i00 + c01 * i01, c00 * i01 + c01 * i11, c10 * i00 + c11 * i01, c10 * i01 + c11 * i11];
  if (!a.every(Number.isFinite)) return { a: [1, 0, 0, 1], t: [qy - py, qx - px] };
  return { a, t: [qy - (a[0] * py + a[1] * px), qx - (a[2] * py + a[3] * px)] };
}

/** Points ((y, x) pairs) mapped by the affine map, into out (new array by default; may alias points). */
export function applyAffine(affine: Affine, points: ArrayLike<number>, out: Float64Array = new Float64Array(points.length)): Float64Array {
  const [a0, a1, a2, a3] = affine.a, [t0, t1] = affine.t;
  for (let j = 0; j < points.length; j += 2) {
    const y = points[j], x = points[j + 1];
    out[j] = a0 * y + a1 * x + t0;
    out[j + 1] = a2 * y + a3 * x + t1;
  }
  return out;
}

/**
 * Project refined positions onto the affine family of the nominal ones: fit A, t (fitAffine) and return
 * A p + t + residual * (q - (A p + t)) for each nominal p and refined q. residual 0 (default) is the hard
 * constraint; 1 returns the refined positions unchanged; in between keeps part of each position's own
 * correction (local errors on top of the global distortion).
 */
export function projectAffine(
  nominal: ArrayLike<number>, refined: ArrayLike<number>, options: { residual?: number; weights?: ArrayLike<number> } = {},
): { corners: Float64Array; affine: Affine } {
  const r = options.residual ?? 0;
  if (!(r >= 0 && r <= 1)) throw new Error(`projectAffine: residual must lie in [0, 1], got ${r}`);
  const affine = fitAffine(nominal, refined, options.weights);
  const corners = applyAffine(affine, nominal);
  if (r > 0) for (let i = 0; i < corners.length; i++) corners[i] += r * (refined[i] - corners[i]);
  return { corners, affine };
}
