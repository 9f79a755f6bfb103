/**
 * GradNorm (Chen et al. 2018) for the two data terms. G_i = w_i ||grad_shared L_i|| is each weighted term's
 * gradient norm on the shared variables; its target is mean(G) * r_i^alpha with r_i the term's relative
 * inverse training rate (L_i(t) / L_i(0), over its mean). The weights take a gradient step on
 * 1/2 sum_i (G_i - target_i)^2 / mean(G)^2 in log w (targets held constant, as in the paper), which makes the
 * step free of the losses' units; then w_p + w_x = 2. The first call sets the weights so that both
 * weighted gradient norms are equal.
 */
export interface GradNormState {
  weights: [number, number];
  initialLosses: [number, number] | null;
}

export function gradNormInit(): GradNormState {
  return { weights: [1, 1], initialLosses: null };
}

export function gradNormUpdate(
  state: GradNormState,
  losses: [number, number],
  gradNorms: [number, number],
  alpha: number,
  rate: number,
): [number, number] {
  const [n0, n1] = gradNorms;
  if (!state.initialLosses) {
    state.initialLosses = [Math.max(losses[0], 1e-300), Math.max(losses[1], 1e-300)];
    if (n0 > 0 && n1 > 0) {
      const w0 = (2 * n1) / (n0 + n1);
      state.weights = [w0, 2 - w0];
    }
    return state.weights;
  }
  const G = [state.weights[0] * n0, state.weights[1] * n1];
  const meanG = (G[0] + G[1]) / 2;
  if (!(meanG > 0)) return state.weights;
  const rel = [losses[0] / state.initialLosses[0], losses[1] / state.initialLosses[1]];
  const meanRel = (rel[0] + rel[1]) / 2;
  const logw = state.weights.map((w, i) => {
    const target = meanG * (meanRel > 0 ? rel[i] / meanRel : 1) ** alpha;
    const grad = ((G[i] - target) * G[i]) / (meanG * meanG);
    return Math.log(w) - rate * grad;
  });
  const w = logw.map(Math.exp);
  const s = w[0] + w[1];
  state.weights = [(2 * w[0]) / s, (2 * w[1]) / s];
  return state.weights;
}
