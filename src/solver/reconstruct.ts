/**
 * reconstruct(scan, config): the one entry point of every mode.
 *
 * - joint: unknowns are the element maps c_e >= 0, a free map (linear link: the imaginary part y; exponential:
 *   the non-fluorescing matrix m) and the probe. The object O = link(c, free) feeds the ptychography term and
 *   the maps feed the XRF term: J = w_p L_p / Lp_scale + w_x L_x / Lx_scale, weights fixed or by GradNorm on
 *   the shared maps.
 * - ptycho: the separate ptychography baseline: a free complex object and the probe, the same data term.
 * - xrf: the separate XRF baseline: non-negative deconvolution of the maps with the probe intensity known.
 *
 * Each term is divided by a fixed scale (the total measured counts; the sum of squared / summed
 * fluorescence) so losses are comparable between scans. Adam per variable group, cosine-decayed step sizes.
 */
import { linkVjp, applyLink } from "../physics/link.js";
import type { LinkSpec, ProbeModes } from "../scan/model.js";
import type { Engine, EngineProblem, EvalResult } from "../engine/engine.js";
import { History, type HistoryRecord } from "../metrics/history.js";
import { Adam, cosineFactor } from "./adam.js";
import { ConfigError, resolveConfig, type SolverConfig } from "./config.js";
import { gradNormInit, gradNormUpdate } from "./gradnorm.js";
import { initialFreeValue, initialMaps, meanPattern, scannedMask, objectAmplitude, probeFromMeanPattern } from "./init.js";
import { linkFor, scanGeometry, xrfData, type Geometry, type LoadedScan } from "./problem.js";

/** One iteration's record: losses {ptycho, xrf, total}, weights {ptycho, xrf}, steps per variable group. */
export type IterationRecord = HistoryRecord;

export interface ReconstructionState {
  /** Complex object H x W. */
  object: Float32Array;
  probe: Float32Array;
  /** Element maps [E, H, W] (joint and xrf modes). */
  maps: Float32Array | null;
  /** Free map H x W (joint mode). */
  free: Float32Array | null;
}

export interface Reconstruction extends ReconstructionState {
  config: SolverConfig;
  geometry: Geometry;
  link: LinkSpec | null;
  elements: string[];
  modes: number;
  frameSize: number;
  history: History;
  engine: { name: string; device: string };
  wall_s: number;
}

export interface ReconstructOptions {
  engine: Engine;
  /** Force the object grid (e.g. to the ground truth's, so errors compare pixel for pixel). */
  grid?: { height: number; width: number };
  /** Start from these values instead of the computed initial guesses (resuming a checkpoint, warm starts). */
  initial?: Partial<ReconstructionState>;
  /**
   * Called after every iteration with its record (before it is stored: a caller may add `errors`) and the
   * current state (read only).
   */
  onIteration?: (record: IterationRecord, state: ReconstructionState, geometry: Geometry) => void | Promise<void>;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** 99th percentile of a map (robust scale for step sizes). */
function robustMax(a: Float32Array): number {
  const s = Float32Array.from(a).sort();
  return s[Math.min(s.length - 1, Math.floor(0.99 * s.length))] || maxAbs(a) || 1;
}

function initialProbe(scan: LoadedScan, config: SolverConfig, mean: Float64Array): ProbeModes {
  const h = scan.header;
  const guess = h.probeGuess;
  if (config.probe.init === "file" && !guess) {
    throw new ConfigError(["probe.init is \"file\" but the scan has no /ptychography/probe_guess"]);
  }
  if (guess && config.probe.init !== "mean-diffraction") {
    if (guess.n !== h.frameSize) throw new ConfigError([`the probe guess is ${guess.n} x ${guess.n}, the frames ${h.frameSize} x ${h.frameSize}`]);
    return { ...guess, data: Float32Array.from(guess.data) };
  }
  return { modes: 1, n: h.frameSize, data: probeFromMeanPattern(mean, h.frameSize, 1) };
}

export async function reconstruct(scan: LoadedScan, configInput: unknown, options: ReconstructOptions): Promise<Reconstruction> {
  const config = resolveConfig(configInput);
  const { engine } = options;
  const h = scan.header;
  const n = h.frameSize;
  const geometry = scanGeometry(h, config.subpixel, options.grid);
  const { height: H, width: W, windows } = geometry;
  const HW = H * W;
  const mean = meanPattern(scan.diffraction, h.npos, n);
  const probe0 = initialProbe(scan, config, mean);
  const modes = probe0.modes;
  const xrf = xrfData(h);
  const E = xrf.elements.length;
  const mode = config.mode;
  const usePtycho = mode !== "xrf", useXrf = mode !== "ptycho";

  const problem: EngineProblem = {
    windows, modes, diffraction: scan.diffraction, ptychoModel: config.noise.ptycho,
    ...(useXrf ? { xrf: { ...xrf, model: config.noise.xrf } } : {}),
  };
  await engine.load(problem);

  // fixed scales of the data terms
  let counts = 0;
  for (const v of mean) counts += v;
  const scaleP = Math.max(1e-30, counts * h.npos);
  let scaleX = 0;
  for (const v of xrf.measured) scaleX += config.noise.xrf === "lsq" ? v * v : Math.abs(v);
  scaleX = Math.max(1e-30, scaleX);

  // variables
  const probe = probe0.data;
  const amplitude = objectAmplitude(mean, probe);
  const link = mode === "joint" ? linkFor(h, config.link) : null;
  const maps = useXrf ? initialMaps(xrf.measured, xrf.sensitivity, probe, windows) : null;
  const free = mode === "joint" ? new Float32Array(HW) : null;
  if (free && link && maps) free.fill(initialFreeValue(link, maps, xrf.elements, HW, amplitude, scannedMask(windows)));
  const object = new Float32Array(2 * HW);
  if (mode === "ptycho") for (let p = 0; p < HW; p++) object[2 * p] = amplitude;
  else if (mode === "xrf") object.fill(0);
  const init = options.initial ?? {};
  const adopt = (name: string, target: Float32Array | null, src: Float32Array | null | undefined) => {
    if (!src || !target) return;
    if (src.length !== target.length) throw new ConfigError([`initial ${name} has ${src.length} values, expected ${target.length}`]);
    target.set(src);
  };
  adopt("probe", probe, init.probe);
  adopt("maps", maps, init.maps);
  adopt("free", free, init.free);
  if (mode === "ptycho") adopt("object", object, init.object);
  const mapView = (buf: Float32Array) => Object.fromEntries(xrf.elements.map((el, e) => [el, buf.subarray(e * HW, (e + 1) * HW)]));
  const updateObject = () => { if (link && maps && free) applyLink(link, mapView(maps), free, object); };
  updateObject();

  // step-size scales
  const mapScale = maps ? xrf.elements.map((_, e) => robustMax(maps.subarray(e * HW, (e + 1) * HW))) : [];
  let freeScale = amplitude;
  if (link?.type === "exponential") {
    const d = Math.hypot(link.matrix.delta, link.matrix.beta);
    freeScale = d > 0 ? 1 / (link.k * d) : 1;
  }
  const probeScale = maxAbs(probe);

  const { beta1, beta2 } = config.adam;
  const adamMaps = maps ? xrf.elements.map(() => new Adam(HW, beta1, beta2)) : [];
  const adamFree = free ? new Adam(HW, beta1, beta2) : null;
  const adamObject = mode === "ptycho" ? new Adam(2 * HW, beta1, beta2) : null;
  const adamProbe = new Adam(probe.length, beta1, beta2);
  const gMapsP = new Float32Array(E * HW), gFreeP = new Float32Array(HW);
  const gMaps = new Float32Array(E * HW), gProbe = new Float32Array(probe.length), gObj = new Float32Array(2 * HW);
  const gn = gradNormInit();
  if (config.weights.strategy === "fixed") {
    const s = config.weights.ptycho + config.weights.xrf;
    gn.weights = [(2 * config.weights.ptycho) / s, (2 * config.weights.xrf) / s];
  }
  const history = new History({ mode, engine: engine.name });
  const state: ReconstructionState = { object, probe, maps, free };
  const t0 = performance.now();

  for (let it = 0; it < config.iterations; it++) {
    const refine = config.probe.refine && mode !== "xrf" && it >= config.probe.refineAfter;
    const res: EvalResult = await engine.evaluate(
      { object, probe, ...(maps ? { maps } : {}) },
      { ptycho: usePtycho, xrf: useXrf, probeGradient: refine },
    );
    const lp = res.lossPtycho / scaleP, lx = res.lossXrf / scaleX;
    const f = cosineFactor(it, config.iterations, config.finalRateFraction);
    const rates: Record<string, number> = {};
    let wp = mode === "ptycho" ? 1 : 0, wx = mode === "xrf" ? 1 : 0;

    if (mode === "joint") {
      linkVjp(link!, mapView(maps!), free!, object, res.gObject, mapView(gMapsP), gFreeP);
      const np = norm(gMapsP) / scaleP, nx = norm(res.gMaps!) / scaleX;
      [wp, wx] = config.weights.strategy === "gradnorm"
        ? gradNormUpdate(gn, [lp, lx], [np, nx], config.weights.alpha, config.weights.rate)
        : gn.weights;
      const ap = wp / scaleP, ax = wx / scaleX;
      for (let i = 0; i < gMaps.length; i++) gMaps[i] = ap * gMapsP[i] + ax * res.gMaps![i];
      for (let i = 0; i < HW; i++) gFreeP[i] *= ap;
      adamFree!.step(free!, gFreeP, (rates.free = config.rates.free * freeScale * f));
    } else if (mode === "xrf") {
      const ax = 1 / scaleX;
      for (let i = 0; i < gMaps.length; i++) gMaps[i] = ax * res.gMaps![i];
    } else {
      const ap = 1 / scaleP;
      for (let i = 0; i < gObj.length; i++) gObj[i] = ap * res.gObject[i];
      adamObject!.step(object, gObj, (rates.object = config.rates.object * amplitude * f));
    }
    if (maps) {
      xrf.elements.forEach((el, e) => {
        const view = maps.subarray(e * HW, (e + 1) * HW);
        adamMaps[e].step(view, gMaps.subarray(e * HW, (e + 1) * HW), (rates[`map_${el}`] = config.rates.maps * mapScale[e] * f));
        for (let p = 0; p < HW; p++) if (view[p] < 0) view[p] = 0;
      });
    }
    if (refine) {
      const ap = wp / scaleP, ax = wx / scaleX;
      for (let i = 0; i < gProbe.length; i++) gProbe[i] = (res.gProbePtycho ? ap * res.gProbePtycho[i] : 0) + (res.gProbeXrf ? ax * res.gProbeXrf[i] : 0);
      adamProbe.step(probe, gProbe, (rates.probe = config.rates.probe * probeScale * f));
    }
    updateObject();

    const losses: Record<string, number> = {};
    const weights: Record<string, number> = {};
    if (usePtycho) { losses.ptycho = lp; weights.ptycho = wp; }
    if (useXrf) { losses.xrf = lx; weights.xrf = wx; }
    losses.total = (usePtycho ? wp * lp : 0) + (useXrf ? wx * lx : 0);
    const record: IterationRecord = { iteration: it + 1, time_s: (performance.now() - t0) / 1000, losses, weights, steps: rates };
    await options.onIteration?.(record, state, geometry);
    history.append(record);
  }

  return {
    ...state,
    config, geometry, link, elements: xrf.elements, modes, frameSize: n, history,
    engine: { name: engine.name, device: engine.device },
    wall_s: (performance.now() - t0) / 1000,
  };
}
