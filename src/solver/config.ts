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

/**
 * The range of every numeric option: each has an upper bound, so that no config (an upload's sidecar
 * included) can ask a worker for unbounded work or memory, or carry Infinity (JSON's 1e999) into the solver.
 */
interface NumberRule {
  key: string;
  lo: number;
  hi: number;
  loOpen?: boolean;
  hiOpen?: boolean;
  integer?: boolean;
  nullable?: boolean;
}

/** At most 1e6 iterations, epochs or positions anywhere. */
const MAX_COUNT = 1e6;
/** Position search: radius / step at most this, so (2 * 32 + 1)^2 = 4225 forward passes per search. */
export const MAX_SEARCH_STEPS = 32;
const MAX_MASK_NAME = 1024;

export const NUMBER_RULES: readonly NumberRule[] = [
  { key: "iterations", lo: 1, hi: MAX_COUNT, integer: true },
  { key: "threads", lo: 1, hi: 256, integer: true, nullable: true },
  { key: "seed", lo: 0, hi: 2 ** 32 - 1, integer: true },
  { key: "noise.switchAfter", lo: 0, hi: MAX_COUNT, integer: true },
  { key: "noise.switchScale", lo: 0, loOpen: true, hi: 1e3, nullable: true },
  { key: "atv.ratio", lo: 0, hi: 100 },
  { key: "atv.p", lo: 0, loOpen: true, hi: 4 },
  { key: "atv.q", lo: 0, loOpen: true, hi: 4 },
  { key: "atv.eps", lo: 0, loOpen: true, hi: 1 },
  { key: "batches.start", lo: 1, hi: MAX_COUNT, integer: true },
  { key: "batches.factor", lo: 0, loOpen: true, hi: 1e3 },
  { key: "batches.every", lo: 1, hi: MAX_COUNT, integer: true },
  { key: "batches.max", lo: 1, hi: MAX_COUNT, integer: true, nullable: true },
  { key: "plateau.factor", lo: 0, loOpen: true, hi: 1, hiOpen: true },
  { key: "plateau.patience", lo: 0, hi: MAX_COUNT, integer: true },
  { key: "plateau.threshold", lo: 0, hi: 1 },
  { key: "plateau.cooldown", lo: 0, hi: MAX_COUNT, integer: true },
  { key: "plateau.minScale", lo: 0, hi: 1 },
  { key: "positions.refineAfter", lo: 0, hi: MAX_COUNT, integer: true },
  { key: "positions.rate", lo: 0, loOpen: true, hi: 16 },
  { key: "positions.maxStep", lo: 0, loOpen: true, hi: 16 },
  { key: "positions.search.radius", lo: 0, hi: 64 },
  { key: "positions.search.step", lo: 0, loOpen: true, hi: 64 },
  { key: "positions.search.every", lo: 1, hi: MAX_COUNT, integer: true },
  { key: "rpie.alpha", lo: 0, hi: 1 },
  { key: "rpie.beta", lo: 0, hi: 1 },
  { key: "weights.ptycho", lo: 0, hi: 1e6 },
  { key: "weights.xrf", lo: 0, hi: 1e6 },
  { key: "weights.alpha", lo: 0, hi: 10 },
  { key: "weights.rate", lo: 0, hi: 1 },
  { key: "rates.maps", lo: 0, hi: 1 },
  { key: "rates.free", lo: 0, hi: 1 },
  { key: "rates.object", lo: 0, hi: 1 },
  { key: "rates.probe", lo: 0, hi: 1 },
  { key: "adam.beta1", lo: 0, hi: 1, hiOpen: true },
  { key: "adam.beta2", lo: 0, hi: 1, hiOpen: true },
  { key: "finalRateFraction", lo: 0, loOpen: true, hi: 1 },
  { key: "probe.refineAfter", lo: 0, hi: MAX_COUNT, integer: true },
  { key: "probe.modes", lo: 1, hi: 8, integer: true },
  { key: "correlation.minRegionPixels", lo: 1, hi: 1e9, integer: true },
];

function bound(x: number): string {
  return x >= 1e5 && Number.isInteger(Math.log10(x)) ? `1e${Math.log10(x)}` : String(x);
}

function valueAt(c: SolverConfig, key: string): unknown {
  let v: unknown = c;
  for (const part of key.split(".")) v = (v as Record<string, unknown>)?.[part];
  return v;
}

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
  for (const rule of NUMBER_RULES) {
    const v = valueAt(c, rule.key);
    if (v === null && rule.nullable) continue;
    if (typeof v !== "number") continue; // a wrong type is reported by the merge
    const ok = (rule.integer ? Number.isInteger(v) : Number.isFinite(v))
      && (rule.loOpen ? v > rule.lo : v >= rule.lo) && (rule.hiOpen ? v < rule.hi : v <= rule.hi);
    check(ok, `"${rule.key}" must be ${rule.nullable ? "null or " : ""}${rule.integer ? "an integer " : ""}in ${rule.loOpen ? "(" : "["}${bound(rule.lo)}, ${bound(rule.hi)}${rule.hiOpen ? ")" : "]"}, got ${v}`);
  }
  check(c.weights.ptycho + c.weights.xrf > 0, `"weights.ptycho" and "weights.xrf" must not both be 0`);
  const { radius, step } = c.positions.search;
  if (radius > 0 && radius <= 64 && step > 0 && step <= 64) {
    check(radius / step <= MAX_SEARCH_STEPS, `"positions.search.radius" / "positions.search.step" must be at most ${MAX_SEARCH_STEPS} (each search costs (2 floor(radius / step) + 1)^2 forward passes, at most ${(2 * MAX_SEARCH_STEPS + 1) ** 2}), got ${radius} / ${step}`);
  }
  check(["adam", "gradient"].includes(c.positions.method), `"positions.method" must be "adam" or "gradient", got ${JSON.stringify(c.positions.method)}`);
  check(c.correlation.mask.length <= MAX_MASK_NAME, `"correlation.mask" must be at most ${MAX_MASK_NAME} characters, got ${c.correlation.mask.length}`);
  if (problems.length) throw new ConfigError(problems);
  return c;
}
