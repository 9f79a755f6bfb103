/**
 * The reconstruction config: a typed, validated, JSON-serialisable object with defaults. Every field is
 * optional in user input (`resolveConfig` fills defaults and reports every invalid field at once).
 */
import type { PtychoNoiseModel, XrfNoiseModel } from "../physics/losses.js";

export type Mode = "joint" | "ptycho" | "xrf";
export type LinkChoice = "auto" | "linear" | "exponential";

export interface SolverConfig {
  /** joint: one objective over shared variables; ptycho / xrf: the separate baselines. */
  mode: Mode;
  iterations: number;
  /** Compute engine: "cpu" (fast, worker threads) or "reference" (src/physics, one thread). */
  engine: "cpu" | "reference";
  /** Worker threads of the cpu engine; null = all cores. */
  threads: number | null;
  seed: number;
  /** How element maps become the object; auto = exponential when the scan carries beta/delta for every element. */
  link: LinkChoice;
  noise: { ptycho: PtychoNoiseModel; xrf: XrfNoiseModel };
  /** Balance of the data terms: GradNorm (Chen et al. 2018) or fixed weights; w_ptycho + w_xrf = 2. */
  weights: { strategy: "gradnorm" | "fixed"; ptycho: number; xrf: number; alpha: number; rate: number };
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
  };
  /** Sub-pixel positions (Fourier-shifted probe); off rounds positions to whole pixels. */
  subpixel: boolean;
}

export const DEFAULT_CONFIG: SolverConfig = {
  mode: "joint",
  iterations: 200,
  engine: "cpu",
  threads: null,
  seed: 1,
  link: "auto",
  noise: { ptycho: "gaussian", xrf: "lsq" },
  weights: { strategy: "gradnorm", ptycho: 1, xrf: 1, alpha: 1.5, rate: 0.05 },
  rates: { maps: 0.05, free: 0.05, object: 0.05, probe: 0.005 },
  adam: { beta1: 0.9, beta2: 0.999 },
  finalRateFraction: 0.05,
  probe: { init: "auto", refine: true, refineAfter: 20 },
  subpixel: true,
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

const ONE_OF: Record<string, readonly string[]> = {
  mode: ["joint", "ptycho", "xrf"],
  engine: ["cpu", "reference"],
  link: ["auto", "linear", "exponential"],
  "noise.ptycho": ["gaussian", "poisson", "weighted"],
  "noise.xrf": ["lsq", "poisson"],
  "weights.strategy": ["gradnorm", "fixed"],
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
      if (isPlainObject(def)) {
        if (!isPlainObject(v)) problems.push(`"${key}" must be an object`);
        else merge(def, v, `${key}.`);
        continue;
      }
      if (v === null && key === "threads") { target[k] = null; continue; }
      const expected = key === "threads" ? "number" : typeof def;
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
  if (problems.length) throw new ConfigError(problems);
  return c;
}
