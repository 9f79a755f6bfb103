/** Adam (Kingma & Ba) on a Float32Array of real parameters (complex groups: re and im as two reals). */
export class Adam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(readonly size: number, readonly beta1 = 0.9, readonly beta2 = 0.999, readonly eps = 1e-12) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /**
   * x -= lr * mhat / (sqrt(vhat) + eps * scale) for gradient g; `scale` makes eps relative to the gradient's
   * magnitude so the step is invariant to the loss's units. Returns the RMS step taken.
   */
  step(x: Float32Array, g: ArrayLike<number>, lr: number): number {
    this.t++;
    const { m, v, beta1: b1, beta2: b2 } = this;
    const c1 = 1 / (1 - b1 ** this.t), c2 = 1 / (1 - b2 ** this.t);
    let gmax = 0;
    for (let i = 0; i < this.size; i++) gmax = Math.max(gmax, Math.abs(g[i]));
    const eps = this.eps + 1e-8 * gmax;
    let sq = 0;
    for (let i = 0; i < this.size; i++) {
      const gi = g[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const d = (lr * m[i] * c1) / (Math.sqrt(v[i] * c2) + eps);
      x[i] -= d;
      sq += d * d;
    }
    return Math.sqrt(sq / Math.max(1, this.size));
  }
}

/** Cosine decay from 1 to `final` over `total` iterations (iteration counted from 0). */
export function cosineFactor(iteration: number, total: number, final: number): number {
  if (total <= 1) return 1;
  const t = Math.min(1, iteration / (total - 1));
  return final + (1 - final) * 0.5 * (1 + Math.cos(Math.PI * t));
}
