/**
 * Plateau scheduler (PyTorch's ReduceLROnPlateau, mode "min"): one per variable group, fed the monitored loss
 * once per epoch; it returns a multiplier for the group's step size, reduced by `factor` when the loss has not
 * improved for more than `patience` consecutive steps.
 *
 * Per step(loss), exactly as torch.optim.lr_scheduler.ReduceLROnPlateau (2.x):
 *   better = loss < best * (1 - threshold)   (thresholdMode "rel", for losses >= 0)
 *          | loss < best - threshold         (thresholdMode "abs");  best starts at +Infinity; NaN is never better
 *   if better: best = loss, bad = 0, else bad += 1
 *   if cooldown counter > 0: counter -= 1, bad = 0         (bad steps are ignored during the cooldown)
 *   if bad > patience: new = max(multiplier * factor, minScale); multiplier = new if multiplier - new > eps;
 *                      counter = cooldown, bad = 0
 * (PyTorch compares learning rates with eps; here the multiplier, i.e. the rate relative to the initial one.)
 * Defaults are PyTorch's: factor 0.1, patience 10, threshold 1e-4 (rel), cooldown 0, minScale 0, eps 1e-8.
 */

export interface PlateauOptions {
  /** Multiplier applied at each reduction, in (0, 1). */
  factor?: number;
  /** Bad steps tolerated before a reduction (integer >= 0). */
  patience?: number;
  /** Minimum improvement that counts: relative ("rel") or absolute ("abs"). */
  threshold?: number;
  thresholdMode?: "rel" | "abs";
  /** Steps after a reduction during which bad steps are not counted (integer >= 0). */
  cooldown?: number;
  /** Lower bound of the multiplier. */
  minScale?: number;
  /** A reduction smaller than eps (in the multiplier) is skipped (PyTorch's eps, applied to the scale). */
  eps?: number;
}

export interface PlateauState {
  multiplier: number;
  best: number;
  bad: number;
  cooldownLeft: number;
  reductions: number;
  steps: number;
}

const DEFAULTS: Required<PlateauOptions> = { factor: 0.1, patience: 10, threshold: 1e-4, thresholdMode: "rel", cooldown: 0, minScale: 0, eps: 1e-8 };

/** Problems with the options, one message each (empty when valid). */
export function validatePlateauOptions(o: PlateauOptions): string[] {
  const e: string[] = [];
  const intGe0 = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v >= 0);
  if (o.factor !== undefined && !(o.factor > 0 && o.factor < 1)) e.push(`plateau factor must be in (0, 1), got ${o.factor}`);
  if (!intGe0(o.patience)) e.push(`plateau patience must be an integer >= 0, got ${o.patience}`);
  if (!intGe0(o.cooldown)) e.push(`plateau cooldown must be an integer >= 0, got ${o.cooldown}`);
  if (o.threshold !== undefined && !(o.threshold >= 0 && Number.isFinite(o.threshold))) e.push(`plateau threshold must be >= 0, got ${o.threshold}`);
  if (o.thresholdMode !== undefined && o.thresholdMode !== "rel" && o.thresholdMode !== "abs") e.push(`plateau thresholdMode must be rel or abs, got ${String(o.thresholdMode)}`);
  if (o.minScale !== undefined && !(o.minScale >= 0 && o.minScale <= 1)) e.push(`plateau minScale must be in [0, 1], got ${o.minScale}`);
  if (o.eps !== undefined && !(o.eps >= 0)) e.push(`plateau eps must be >= 0, got ${o.eps}`);
  return e;
}

export class PlateauScheduler {
  readonly options: Readonly<Required<PlateauOptions>>;
  private s: PlateauState = { multiplier: 1, best: Infinity, bad: 0, cooldownLeft: 0, reductions: 0, steps: 0 };

  constructor(options: PlateauOptions = {}, state?: PlateauState) {
    const errors = validatePlateauOptions(options);
    if (errors.length) throw new Error(errors.join("; "));
    this.options = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    if (state) this.s = { ...state };
  }

  /** The current multiplier (1 until the first reduction). */
  get multiplier(): number {
    return this.s.multiplier;
  }

  /** Best loss seen so far (+Infinity before the first step). */
  get best(): number {
    return this.s.best;
  }

  /** A copy of the state (JSON-safe except best = Infinity before the first step), for checkpoints. */
  state(): PlateauState {
    return { ...this.s };
  }

  private isBetter(loss: number): boolean {
    const { threshold, thresholdMode } = this.options;
    return thresholdMode === "rel" ? loss < this.s.best * (1 - threshold) : loss < this.s.best - threshold;
  }

  /** Feed one monitored loss (once per epoch); returns the multiplier to use from now on. */
  step(loss: number): number {
    const s = this.s, o = this.options;
    s.steps++;
    if (this.isBetter(loss)) {
      s.best = loss;
      s.bad = 0;
    } else {
      s.bad++;
    }
    if (s.cooldownLeft > 0) {
      s.cooldownLeft--;
      s.bad = 0;
    }
    if (s.bad > o.patience) {
      const next = Math.max(s.multiplier * o.factor, o.minScale);
      if (s.multiplier - next > o.eps) {
        s.multiplier = next;
        s.reductions++;
      }
      s.cooldownLeft = o.cooldown;
      s.bad = 0;
    }
    return s.multiplier;
  }
}
