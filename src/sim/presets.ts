/**
 * Simulation presets and option resolution. Every preset uses the same beamline geometry (10 keV, detector at
 * 2 m, 75 um Eiger pixels), so the object pixel size follows the probe size N: dx = lambda z / (N p_det)
 * (103 nm for N = 32, 52 nm for N = 64, 13 nm for N = 256).
 *
 *   small  object 64,   probe 32,  6x6 raster (step fills the object), Fe+Zn, exponential, Poisson, 1e6 photons
 *   paper  object 154,  probe 64,  raster at overlap 0.5, Fe+Zn, linear (O = c_Fe + c_Zn + i m), 3 % Gaussian
 *          noise on both modalities, 1e6 photons: the joint paper's first experiment
 *   bench  object 256,  probe 64,  20x20 raster with a 10 px step (whole-pixel positions), Fe+Zn, exponential,
 *          Poisson, 1e7 photons
 *   large  object 2048, probe 256, 64x64 raster (4096 frames of 256^2 uint32 = 1 GiB), Fe+Zn, exponential,
 *          Poisson, 1e7 photons; frames are produced block by block, never held whole
 *   lowdose object 200,  probe 64,  15x15 raster at overlap 0.5 (step 9.5 px, no jitter: an exactly periodic
 *          grid), Fe+Zn, exponential, Poisson on both modalities, at most 1e3 photons in the brightest
 *          diffraction pattern (`maxPatternPhotons`): the DAP paper's low-dose, low-overlap setting
 *
 * `maxPatternPhotons` P (any preset) sets the dose instead of `dose`: the probe is scaled so that the brightest
 * noiseless diffraction pattern holds exactly P photons before noise (simulate.ts); the dose it implies is
 * reported as the config's `dose`. An explicit `dose` option without `maxPatternPhotons` replaces a preset's
 * photon rule (like the scan step rule below).
 *
 * Options override preset fields. `scan` overrides replace the preset's step rule (overlap / grid / npos) when
 * they give any of the three, and otherwise keep it; `noise` overrides merge field by field.
 */
import { isPowerOfTwo } from "../physics/fft.js";
import { SUPPORTED_ELEMENTS } from "./elements.js";
import type { NoiseSpec } from "./noise.js";
import type { ScanSpec } from "./scanPattern.js";

export type PresetName = "small" | "paper" | "bench" | "large" | "lowdose";
export type LinkKind = "linear" | "exponential";

export interface ProbeOptions {
  /** Pupil radius in frequency pixels; default min(9, N / 4). */
  pupilRadius_px?: number;
  centralStop: number;
  defocusWaves: number;
}

export interface SimConfig {
  preset: PresetName;
  /** Non-negative integer. */
  seed: number;
  /** Object grid: objectSize x objectSize pixels. */
  objectSize: number;
  /** Probe window and detector frame size N (power of two). */
  probeSize: number;
  probeModes: number;
  probe: ProbeOptions;
  scan: ScanSpec;
  noise: NoiseSpec;
  /** Incident photons per exposure (sum of the probe intensity over all modes). */
  dose: number;
  /**
   * When set, the dose is chosen so that the brightest noiseless diffraction pattern holds exactly this many
   * photons (before noise); `dose` is then only the starting value and simulate() reports the implied dose.
   */
  maxPatternPhotons?: number;
  elements: string[];
  link: LinkKind;
  energy_keV: number;
  detectorDistance_m: number;
  detectorPixel_m: number;
  /** Write the true probe as the scan's /ptychography/probe_guess (a characterised beamline probe). */
  probeGuess: boolean;
}

export type SimOptions = Partial<Omit<SimConfig, "scan" | "noise" | "probe">> & {
  scan?: Partial<ScanSpec>;
  noise?: Partial<NoiseSpec>;
  probe?: Partial<ProbeOptions>;
};

const BASE = {
  seed: 1,
  probeModes: 1,
  probe: { centralStop: 0.3, defocusWaves: 0.5 },
  elements: ["Fe", "Zn"],
  energy_keV: 10,
  detectorDistance_m: 2,
  detectorPixel_m: 75e-6,
  probeGuess: true,
};

export const PRESETS: Record<PresetName, SimConfig> = {
  small: {
    ...BASE, preset: "small", objectSize: 64, probeSize: 32,
    scan: { pattern: "raster", grid: [6, 6], jitter_px: 0.3 },
    noise: { kind: "poisson", level: 0 }, dose: 1e6, link: "exponential",
  },
  paper: {
    ...BASE, preset: "paper", objectSize: 154, probeSize: 64,
    scan: { pattern: "raster", overlap: 0.5 },
    noise: { kind: "gaussian", level: 0.03 }, dose: 1e6, link: "linear",
  },
  bench: {
    ...BASE, preset: "bench", objectSize: 256, probeSize: 64,
    scan: { pattern: "raster", grid: [20, 20], step_px: 10 },
    noise: { kind: "poisson", level: 0 }, dose: 1e7, link: "exponential",
  },
  large: {
    ...BASE, preset: "large", objectSize: 2048, probeSize: 256,
    scan: { pattern: "raster", grid: [64, 64] },
    noise: { kind: "poisson", level: 0 }, dose: 1e7, link: "exponential",
  },
  lowdose: {
    ...BASE, preset: "lowdose", objectSize: 200, probeSize: 64,
    scan: { pattern: "raster", grid: [15, 15], overlap: 0.5, jitter_px: 0 },
    noise: { kind: "poisson", level: 0 }, dose: 1e3, maxPatternPhotons: 1e3, link: "exponential",
  },
};

/** The preset named by options.preset (default "small") with the options applied, validated. */
export function resolveConfig(options: SimOptions = {}): SimConfig {
  const name = options.preset ?? "small";
  const preset = PRESETS[name];
  if (!preset) throw new Error(`unknown preset "${name}" (${Object.keys(PRESETS).join(", ")})`);
  const { scan: scanOpt, noise: noiseOpt, probe: probeOpt, ...rest } = options;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const cfg: SimConfig = { ...preset, ...defined, preset: name };
  if (defined.dose !== undefined && defined.maxPatternPhotons === undefined) delete cfg.maxPatternPhotons;
  if (scanOpt) {
    const stepRule = scanOpt.overlap !== undefined || scanOpt.grid !== undefined || scanOpt.npos !== undefined || scanOpt.step_px !== undefined;
    cfg.scan = {
      ...(stepRule ? {} : { overlap: preset.scan.overlap, grid: preset.scan.grid, npos: preset.scan.npos, step_px: preset.scan.step_px }),
      pattern: scanOpt.pattern ?? preset.scan.pattern,
      jitter_px: scanOpt.jitter_px ?? preset.scan.jitter_px,
      ...(stepRule ? { overlap: scanOpt.overlap, grid: scanOpt.grid, npos: scanOpt.npos, step_px: scanOpt.step_px } : {}),
    };
  }
  if (noiseOpt) cfg.noise = { kind: noiseOpt.kind ?? preset.noise.kind, level: noiseOpt.level ?? preset.noise.level };
  if (probeOpt) cfg.probe = { ...preset.probe, ...Object.fromEntries(Object.entries(probeOpt).filter(([, v]) => v !== undefined)) };
  validate(cfg);
  return cfg;
}

function validate(c: SimConfig): void {
  const fail = (msg: string) => {
    throw new Error(`simulate: ${msg}`);
  };
  if (!(Number.isSafeInteger(c.seed) && c.seed >= 0)) fail(`seed must be a non-negative integer, got ${c.seed}`);
  if (!isPowerOfTwo(c.probeSize) || c.probeSize < 8) fail(`probe size must be a power of two >= 8, got ${c.probeSize}`);
  if (!(Number.isInteger(c.objectSize) && c.objectSize >= c.probeSize)) {
    fail(`object size must be an integer >= the probe size ${c.probeSize}, got ${c.objectSize}`);
  }
  if (!(Number.isInteger(c.probeModes) && c.probeModes >= 1)) fail(`probe modes must be an integer >= 1, got ${c.probeModes}`);
  if (c.elements.length < 1 || new Set(c.elements).size !== c.elements.length) fail(`elements must be distinct and non-empty, got [${c.elements}]`);
  for (const el of c.elements) {
    if (!SUPPORTED_ELEMENTS.includes(el)) fail(`unsupported element "${el}" (supported: ${SUPPORTED_ELEMENTS.join(", ")})`);
  }
  if (c.link !== "linear" && c.link !== "exponential") fail(`link must be linear or exponential, got ${c.link as string}`);
  if (!["none", "poisson", "gaussian"].includes(c.noise.kind)) fail(`noise must be none, poisson or gaussian, got ${c.noise.kind}`);
  if (!(c.noise.level >= 0)) fail(`noise level must be >= 0, got ${c.noise.level}`);
  if (!(c.dose > 0 && c.dose < 2 ** 32)) fail(`dose must be in (0, 2^32) photons, got ${c.dose}`);
  if (c.maxPatternPhotons !== undefined && !(c.maxPatternPhotons > 0 && c.maxPatternPhotons < 2 ** 32)) {
    fail(`max pattern photons must be in (0, 2^32), got ${c.maxPatternPhotons}`);
  }
}
