/**
 * Noise-model schedule (DAP, Appendix A): fit with the Gaussian (amplitude) model for the first `warmup`
 * iterations, which is robust far from the solution, then switch to the target model (poisson or weighted),
 * multiplied by a scale that keeps the loss and its gradient continuous at the switch near convergence.
 *
 * Scale factors for the losses of src/physics/losses.ts (per pixel, measured I > 0, model D -> I, r = D - I):
 *
 *   gaussian  g(D) = (sqrt D - sqrt I)^2        = r^2 / (4 I) + O(r^3)     dg/dD = 1 - sqrt(I/D) = r / (2 I) + O(r^2)
 *   poisson   p(D) = D - I - I log(D / I)       = r^2 / (2 I) + O(r^3)     dp/dD = 1 - I/D       = r / I     + O(r^2)
 *   weighted  w(D) = (D - I)^2 / (2 I)          = r^2 / (2 I)  (exactly)   dw/dD = r / I
 *
 * (sqrt D - sqrt I = r / (sqrt D + sqrt I) -> r / (2 sqrt I); log(D/I) = r/I - r^2/(2 I^2) + ...). Hence
 * g / p -> 1/2 and g / w -> 1/2, the same ratio for the gradients, and scale = 1/2 for both targets: after the
 * switch the solver minimises scale * target, whose value and gradient match the Gaussian loss's to first
 * order in r / I. (DAP's eq. 4 has the same form as ours; its limits "1/2" and "2" are these ratios.)
 *
 * Limits of the asymptotic factor, worth knowing at low dose:
 *   - pixels with I = 0: all three losses are D there (gradient 1), so the scaled target has gradient 1/2 there:
 *     the zero pixels' pull is halved at the switch. At low dose most pixels are 0;
 *   - single photons where D << 1: gradients 1 - 1/sqrt(D) (gaussian) vs 1 - 1/D (poisson) differ by far more
 *     than 2 (e.g. D = 0.1: -2.2 vs -9), so the gradient-norm ratio can fall well below 1/2 (0.37 with D ~ 0.1
 *     and I ~ Bernoulli(D) in the tests);
 *   - noise: at convergence D ~ E[I], not I; with I ~ Poisson(D) the per-pixel gradient standard deviations are
 *     1/sqrt(D) (poisson, weighted) and 1/(2 sqrt D) (gaussian): the factor 1/2 still holds for counts >> 1.
 * `measuredSwitchScale` gives the data-driven alternative: the ratio of the two gradient norms on the current
 * model, to pass as `schedule.scale` when the switch comes.
 *
 * Note: Adam's steps are invariant to a constant gradient scale once its second moment has adapted; the scale
 * matters for the transient right after the switch and wherever the ptychography loss is weighed against other
 * terms (GradNorm's loss ratios, the ATV ratio), which it keeps continuous.
 */
import { ptychoLoss, DEFAULT_EPS, type PtychoNoiseModel } from "../physics/losses.js";

export interface NoiseSchedule {
  /** The model to end with. "gaussian" means no switch. */
  target: PtychoNoiseModel;
  /** Iterations (counted from 0) run with the Gaussian model before switching; 0 starts with the target. */
  warmup: number;
  /** Override of the scale applied after the switch (default: switchScale(target)). */
  scale?: number;
}

export interface NoiseModelAt {
  model: PtychoNoiseModel;
  /** Multiplies the loss and its gradient. 1 before the switch and when there is no switch. */
  scale: number;
  /** True from the first iteration that uses the target model after a Gaussian warm-up. */
  switched: boolean;
}

/** The asymptotic gaussian / target ratio of losses and gradients near D = I (see the file comment). */
export function switchScale(target: PtychoNoiseModel): number {
  switch (target) {
    case "gaussian":
      return 1;
    case "poisson":
    case "weighted":
      return 0.5;
    default:
      throw new Error(`unknown ptychography noise model "${target as string}" (gaussian, poisson, weighted)`);
  }
}

/** Problems with a schedule, one message each (empty when valid). */
export function validateNoiseSchedule(s: NoiseSchedule): string[] {
  const errors: string[] = [];
  if (!["gaussian", "poisson", "weighted"].includes(s.target)) errors.push(`noise schedule target must be gaussian, poisson or weighted, got ${String(s.target)}`);
  if (!(Number.isInteger(s.warmup) && s.warmup >= 0)) errors.push(`noise schedule warmup must be an integer >= 0, got ${s.warmup}`);
  if (s.scale !== undefined && !(s.scale > 0 && Number.isFinite(s.scale))) errors.push(`noise schedule scale must be > 0, got ${s.scale}`);
  return errors;
}

/**
 * The model and loss scale at `iteration` (from 0): gaussian with scale 1 for iterations < warmup, then the
 * target with scale `schedule.scale ?? switchScale(target)`. Without a warm-up (warmup 0) or with a gaussian
 * target there is no switch and the scale is 1.
 */
export function noiseModelAt(iteration: number, schedule: NoiseSchedule): NoiseModelAt {
  const errors = validateNoiseSchedule(schedule);
  if (errors.length) throw new Error(errors.join("; "));
  if (!(iteration >= 0)) throw new Error(`noiseModelAt: iteration must be >= 0, got ${iteration}`);
  if (schedule.target === "gaussian" || schedule.warmup === 0) return { model: schedule.target, scale: 1, switched: false };
  if (iteration < schedule.warmup) return { model: "gaussian", scale: 1, switched: false };
  return { model: schedule.target, scale: schedule.scale ?? switchScale(schedule.target), switched: true };
}

/**
 * Data-driven switch scale: ||dg/dD|| / ||dt/dD|| over the given model D and counts I (any number of patterns,
 * flattened), g the gaussian and t the target loss of losses.ts. Equals switchScale(target) in the limit D -> I
 * with I > 0; differs where zero counts or noise dominate. Returns 1 when the target's gradient vanishes.
 */
export function measuredSwitchScale(D: ArrayLike<number>, I: ArrayLike<number>, target: PtychoNoiseModel, eps = DEFAULT_EPS): number {
  const g = new Float64Array(D.length), t = new Float64Array(D.length);
  ptychoLoss("gaussian", D, I, g, eps);
  ptychoLoss(target, D, I, t, eps);
  let ng = 0, nt = 0;
  for (let i = 0; i < D.length; i++) {
    ng += g[i] * g[i];
    nt += t[i] * t[i];
  }
  return nt > 0 ? Math.sqrt(ng / nt) : 1;
}
