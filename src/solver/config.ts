/**
 * The reconstruction config: a typed, validated, JSON-serialisable object with defaults. Every field is
 * optional in user input (`resolveConfig` fills defaults and reports every invalid field at once).
 */
import type { PtychoNoiseModel, XrfNoiseModel } from "../physics/losses.js";

export type Mode = "joint" | "ptycho" | "xrf" | "rpie";
export type LinkChoice = "auto" | "linear" | "exponential";

export interface SolverConfig {
  /**
   * joint: one objective over shared variables; ptycho / xrf: the separate baselines; rpie: the classic
   * regularised ptychographic iterative engine (ptychography alone, its own update rule).
   */
  mode: Mode;
  iterations: number;
  /**
   * Compute engine: "cpu" (fast, worker threads), "tfjs" (TensorFlow.js: tfjs-node-gpu when installed, else
   * tfjs's slow CPU backend), "auto" (tfjs on a GPU when tfjs-node-gpu loads and sees one, else cpu) or
   * "reference" (src/physics, one thread).
   */
  engine: "auto" | "cpu" | "tfjs" | "reference";
  /** Worker threads of the cpu engine; null = all cores. */
  threads: number | null;
  seed: number;
  /** How element maps become the object; auto = exponential when the scan carries beta/delta for every element. */
  link: LinkChoice;
  /**
   * Noise models. With switchAfter > 0 the ptychography term starts as `gaussian` and switches to `ptycho`
   * after that many iterations, scaled so its gradient is continuous (switchScale: null = the analytic 1/2 of
   * DAP Appendix A for poisson/weighted; or a number).
   */
  noise: { ptycho: PtychoNoiseModel; xrf: XrfNoiseModel; switchAfter: number; switchScale: number | null };
  /**
   * Adaptive total variation (DAP eq. 6-7) on the object (and the element maps with `maps`): its weight is
   * set every step so that ATV = ratio x the data loss (adaptive, DAP), or once at the first step and then
   * held (adaptive false); ratio 0 turns it off.
   */
  atv: { ratio: number; p: number; q: number; eps: number; maps: boolean; adaptive: boolean };
  /**
   * Mini-batches per iteration (epoch): "full" (one batch), or random groups whose size grows from `start`
   * ("constant", "linear" by `factor` every `every` epochs, "geometric" x `factor` every `every` epochs), up to
   * `max` (null: all positions).
   */
  batches: { growth: "full" | "constant" | "linear" | "geometric"; start: number; factor: number; every: number; max: number | null };
  /** Reduce each group's step size by `factor` when the loss has not improved for `patience` epochs. */
  plateau: { enabled: boolean; factor: number; patience: number; threshold: number; cooldown: number; minScale: number };
  /**
   * Gradient-based refinement of the scan positions after `refineAfter` iterations (ptychography term):
   * `method` "adam" (each coordinate moves about `rate` px per step while its gradient keeps its sign) or
   * "gradient" (steps proportional to the gradient, `rate` px for the first step's RMS gradient: positions over
   * featureless regions, whose gradients are weak, stay where they are), at most `maxStep` px per step;
   * `affine` projects the refined positions onto the best affine map of the nominal ones. `search` (radius
   * > 0): every `every` iterations after `refineAfter`, each position tries whole offsets on a grid of
   * `step` px out to `radius` px with the current object and probe and jumps to a clearly better one
   * (positionSearch.ts): positions recorded beyond the gradient's capture range of a few pixels.
   */
  positions: {
    refine: boolean; refineAfter: number; method: "adam" | "gradient"; rate: number; maxStep: number; affine: boolean;
    search: { radius: number; step: number; every: number };
  };
  /** Starting object and probe: "default" (flat object, file or mean-pattern probe) or "autocorrelation" (DAP 2A). */
  init: "default" | "autocorrelation";
  /** rPIE's object and probe regularisation (mode "rpie"). */
  rpie: { alpha: number; beta: number };
  /**
   * Balance of the data terms, w_ptycho + w_xrf = 2: GradNorm (Chen et al. 2018), fixed weights, or
   * "likelihood": the terms' plain sum L_p + L_x without per-term normalisation (with Poisson noise models
   * for both, the joint maximum-likelihood estimate; suited to low counts).
   */
  weights: { strategy: "gradnorm" | "fixed" | "likelihood"; ptycho: number; xrf: number; alpha: number; rate: number };
  /**
   * Adam step sizes per variable group, as a fraction of the group's scale (maps: their initial maximum;
   * object and free map: the mean object amplitude; probe: its peak amplitude).
   */
  rates: { maps: number; free: number; object: number; probe: number };
  /** Adam's moment decay rates. */
  adam: { beta1: number; beta2: number };
  /** The step sizes decay along a cosine to this fraction of their start over the run. */
  finalRateFraction: number;
  probe: {
    /** auto: the file's probe guess when present, else from the mean diffraction pattern. */
    init: "auto" | "file" | "mean-diffraction";
    refine: boolean;
    /** Probe refinement starts after this many iterations. */
    refineAfter: number;
    /** Incoherent probe modes (mixed state); extra modes start at 10 % of the first's power, orthogonalised each epoch. */
    modes: number;
    /** Each epoch: move the probe's intensity centre to the window centre (and the object/maps with it). */
    recentre: boolean;
    /** Each epoch (ptycho mode): zero the probe's mean phase, the object taking the inverse factor. */
    normalise: boolean;
  };
  /** Sub-pixel positions (Fourier-shifted probe); off rounds positions to whole pixels. */
  subpixel: boolean;
  /**
   * Correlated analysis of the result (metrics.json `correlation`, report.html; docs/reports.md): regions from
   * `mask`, a PNG label image of the object's size (grey value = label, 0 = background; a path on the machine
   * that runs the reconstruction), or "" (default) to segment the phase (Otsu); phase-segmented components
   * smaller than `minRegionPixels` belong to no region. Analysis only: it does not change the reconstruction.
   */
  correlation: { mask: string; minRegionPixels: number };
}

export const DEFAULT_CONFIG: SolverConfig = {
  mode: "joint",
  iterations: 200,
  engine: "cpu",
  threads: null,
  seed: 1,
  link: "auto",
  noise: { ptycho: "gaussian", xrf: "lsq", switchAfter: 0, switchScale: null },
  atv: { ratio: 0, p: 2, q: 1, eps: 1e-8, maps: false, adaptive: true },
  batches: { growth: "full", start: 32, factor: 2, every: 10, max: null },
  plateau: { enabled: false, factor: 0.5, patience: 10, threshold: 1e-4, cooldown: 0, minScale: 0.01 },
  positions: { refine: false, refineAfter: 20, method: "adam", rate: 0.1, maxStep: 0.5, affine: false, search: { radius: 0, step: 2, every: 100 } },
  init: "default",
  rpie: { alpha: 0.1, beta: 1 },
  weights: { strategy: "gradnorm", ptycho: 1, xrf: 1, alpha: 1.5, rate: 0.05 },
  rates: { maps: 0.05, free: 0.05, object: 0.05, probe: 0.005 },
  adam: { beta1: 0.9, beta2: 0.999 },
  finalRateFraction: 0.05,
  probe: { init: "auto", refine: true, refineAfter: 20, modes: 1, recentre: false, normalise: false },
  subpixel: true,
  correlation: { mask: "", minRegionPixels: 16 },
};

export type ConfigInput = {
  [K in keyof SolverConfig]?: SolverConfig[K] extends object ? (SolverConfig[K] extends unknown[] ? SolverConfig[K] : Partial<SolverConfig[K]> | SolverConfig[K]) : SolverConfig[K];
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid config: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/** Fields whose value may be null (their default meaning) or a number. */
const NULLABLE = new Set(["threads", "noise.switchScale", "batches.max"]);

const ONE_OF: Record<string, readonly string[]> = {
  mode: ["joint", "ptycho", "xrf", "rpie"],
  init: ["default", "autocorrelation"],
  "batches.growth": ["full", "constant", "linear", "geometric"],
  engine: ["auto", "cpu", "tfjs", "reference"],
  link: ["auto", "linear", "exponential"],
  "noise.ptycho": ["gaussian", "poisson", "weighted"],
  "noise.xrf": ["lsq", "poisson"],
  "weights.strategy": ["gradnorm", "fixed", "likelihood"],
  "probe.init": ["auto", "file", "mean-diffraction"],
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Merges `input` over the defaults and checks every field; throws ConfigError listing all problems. */
export function resolveConfig(input: unknown = {}): SolverConfig {
  const problems: string[] = [];
  if (!isPlainObject(input)) throw new ConfigError(["the config must be a JSON object"]);
  const out = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  const merge = (target: Record<string, unknown>, src: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(src)) {
      const key = prefix + k;
      if (!(k in target)) {
        problems.push(`unknown field "${key}"`);
        continue;
      }
      const def = target[k];
      if (isPlainObject(def) && !NULLABLE.has(key)) {
        if (!isPlainObject(v)) problems.push(`"${key}" must be an object`);
        else merge(def, v, `${key}.`);
        continue;
      }
      if (v === null && NULLABLE.has(key)) { target[k] = null; continue; }
      const expected = NULLABLE.has(key) ? "number" : typeof def;
      if (typeof v !== expected) {
        problems.push(`"${key}" must be a ${expected}, got ${JSON.stringify(v)}`);
        continue;
      }
      if (ONE_OF[key] && !ONE_OF[key].includes(v as string)) {
        problems.push(`"${key}" must be one of ${ONE_OF[key].join(", ")}, got "${v}"`);
        continue;
      }
      target[k] = v;
    }
  };
  merge(out, input, "");
  const c = out as unknown as SolverConfig;
  const check = (ok: boolean, msg: string) => { if (!ok) problems.push(msg); };
  check(Number.isInteger(c.iterations) && c.iterations >= 1 && c.iterations <= 1e6, `"iterations" must be an integer in [1, 1e6], got ${c.iterations}`);
  check(c.threads === null || (Number.isInteger(c.threads) && c.threads >= 1 && c.threads <= 256), `"threads" must be null or an integer in [1, 256], got ${c.threads}`);
  check(Number.isInteger(c.seed) && c.seed >= 0, `"seed" must be a non-negative integer, got ${c.seed}`);
  for (const [k, v] of Object.entries(c.rates)) check(v >= 0 && v <= 1, `"rates.${k}" must be in [0, 1], got ${v}`);
  check(c.adam.beta1 >= 0 && c.adam.beta1 < 1 && c.adam.beta2 >= 0 && c.adam.beta2 < 1, `"adam.beta1" and "adam.beta2" must be in [0, 1)`);
  check(c.finalRateFraction > 0 && c.finalRateFraction <= 1, `"finalRateFraction" must be in (0, 1], got ${c.finalRateFraction}`);
  check(c.weights.ptycho >= 0 && c.weights.xrf >= 0 && c.weights.ptycho + c.weights.xrf > 0, `"weights.ptycho" and "weights.xrf" must be >= 0 and not both 0`);
  check(c.weights.alpha >= 0 && c.weights.alpha <= 10, `"weights.alpha" must be in [0, 10], got ${c.weights.alpha}`);
  check(c.weights.rate >= 0 && c.weights.rate <= 1, `"weights.rate" must be in [0, 1], got ${c.weights.rate}`);
  check(Number.isInteger(c.probe.refineAfter) && c.probe.refineAfter >= 0, `"probe.refineAfter" must be a non-negative integer, got ${c.probe.refineAfter}`);
  check(Number.isInteger(c.noise.switchAfter) && c.noise.switchAfter >= 0, `"noise.switchAfter" must be a non-negative integer, got ${c.noise.switchAfter}`);
  check(c.noise.switchScale === null || c.noise.switchScale > 0, `"noise.switchScale" must be null or > 0, got ${c.noise.switchScale}`);
  check(c.atv.ratio >= 0 && c.atv.p > 0 && c.atv.q > 0 && c.atv.eps > 0, `"atv.ratio" must be >= 0 and "atv.p", "atv.q", "atv.eps" > 0`);
  check(Number.isInteger(c.batches.start) && c.batches.start >= 1, `"batches.start" must be an integer >= 1, got ${c.batches.start}`);
  check(c.batches.factor > 0 && Number.isInteger(c.batches.every) && c.batches.every >= 1, `"batches.factor" must be > 0 and "batches.every" an integer >= 1`);
  check(c.batches.max === null || (Number.isInteger(c.batches.max) && c.batches.max >= 1), `"batches.max" must be null or an integer >= 1, got ${c.batches.max}`);
  check(c.plateau.factor > 0 && c.plateau.factor < 1 && Number.isInteger(c.plateau.patience) && c.plateau.patience >= 0, `"plateau.factor" must be in (0, 1) and "plateau.patience" a non-negative integer`);
  check(c.plateau.minScale >= 0 && c.plateau.minScale <= 1 && c.plateau.threshold >= 0 && c.plateau.cooldown >= 0, `"plateau.minScale" must be in [0, 1], "plateau.threshold" and "plateau.cooldown" >= 0`);
  check(Number.isInteger(c.positions.refineAfter) && c.positions.refineAfter >= 0 && c.positions.rate > 0 && c.positions.maxStep > 0, `"positions.refineAfter" must be a non-negative integer, "positions.rate" and "positions.maxStep" > 0`);
  check(c.positions.search.radius >= 0 && c.positions.search.step > 0 && Number.isInteger(c.positions.search.every) && c.positions.search.every >= 1, `"positions.search.radius" must be >= 0, "positions.search.step" > 0 and "positions.search.every" an integer >= 1`);
  check(["adam", "gradient"].includes(c.positions.method), `"positions.method" must be "adam" or "gradient", got ${JSON.stringify(c.positions.method)}`);
  check(Number.isInteger(c.probe.modes) && c.probe.modes >= 1 && c.probe.modes <= 8, `"probe.modes" must be an integer in [1, 8], got ${c.probe.modes}`);
  check(c.rpie.alpha >= 0 && c.rpie.alpha <= 1 && c.rpie.beta >= 0 && c.rpie.beta <= 1, `"rpie.alpha" and "rpie.beta" must be in [0, 1]`);
  check(Number.isInteger(c.correlation.minRegionPixels) && c.correlation.minRegionPixels >= 1, `"correlation.minRegionPixels" must be an integer >= 1, got ${c.correlation.minRegionPixels}`);
  if (problems.length) throw new ConfigError(problems);
  return c;
}
