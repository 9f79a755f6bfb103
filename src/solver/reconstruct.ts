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
import { Rng } from "../sim/rng.js";
import type { LinkSpec, ProbeModes } from "../scan/model.js";
import type { Engine, EngineProblem, EvalResult } from "../engine/engine.js";
import { History, type HistoryRecord } from "../metrics/history.js";
import { Adam, cosineFactor } from "./adam.js";
import { ConfigError, resolveConfig, type SolverConfig } from "./config.js";
import { gradNormInit, gradNormUpdate, type GradNormState } from "./gradnorm.js";
import { adaptiveGamma, atv, atvFloor } from "./atv.js";
import { autocorrelationInit } from "./autocorrelation.js";
import { batchSchedule, epochBatches } from "./batches.js";
import { initialFreeValue, initialMaps, meanPattern, scannedMask, objectAmplitude, probeFromMeanPattern } from "./init.js";
import { noiseModelAt } from "./noiseSchedule.js";
import { PlateauScheduler, type PlateauState } from "./plateau.js";
import { PositionRefiner, projectAffine, windowsFromCorners } from "./positions.js";
import { searchPositions } from "./positionSearch.js";
import { inverseFactor, normaliseProbePhase, orthogonaliseProbeModes, recentreProbe, scaleComplex, shiftImage, shiftRealImage } from "./probeOps.js";
import { runRpie } from "./rpie.js";
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
  /**
   * Continue a run from a snapshot that `onCheckpoint` captured (same scan, config and grid): the loop starts
   * after the snapshot's iteration with its variables, Adam moments, GradNorm state, schedules and history,
   * and ends where the uninterrupted run would (bit-identical with the same engine and thread count).
   */
  resume?: SolverSnapshot;
  /**
   * Called after every iteration, once its record is stored, with the number of iterations done and a
   * function that captures the whole solver state as a snapshot (copies). The caller decides when to capture
   * (a checkpoint every N iterations or M minutes); throwing ends the run with that error.
   * Not called in mode "rpie".
   */
  onCheckpoint?: (iteration: number, capture: () => SolverSnapshot) => void | Promise<void>;
}

/**
 * The solver's state between two iterations (checkpoints): JSON-safe `meta` and named typed arrays.
 * Arrays: object, probe, maps, free (the variables), adam.<group>.m / .v, positions.corners and
 * positions.m / .v / .t when positions are refined.
 */
export interface SolverSnapshot {
  meta: SnapshotMeta;
  arrays: Record<string, Float32Array | Float64Array | Int32Array>;
}

export interface SnapshotMeta {
  version: 1;
  mode: string;
  /** Iterations done. */
  iteration: number;
  /** The run's total (the step-size schedule depends on it). */
  iterations: number;
  /** Solver time so far, in seconds (time_s of later records continues from it). */
  elapsed_s: number;
  /** Step counters of the Adam optimisers by group ("maps.0", "free", "object", "probe"). */
  adam: Record<string, number>;
  gradnorm: GradNormState;
  rateScale: Record<string, number>;
  /** Plateau schedulers by group (best = null before the first step: JSON has no Infinity). */
  plateau: Record<string, Omit<PlateauState, "best"> & { best: number | null }> | null;
  refiner: { rate: number; gradientScale: number | null } | null;
  /** The TV weight held fixed from its first step (atv.adaptive false). */
  fixedGamma?: number | null;
  history: IterationRecord[];
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
  if (config.mode === "rpie") return reconstructRpie(scan, config, options);
  const { engine } = options;
  const h = scan.header;
  const n = h.frameSize;
  const nn = n * n;
  const geometry = scanGeometry(h, config.subpixel, options.grid);
  const { height: H, width: W } = geometry;
  const HW = H * W;
  const npos = h.npos;
  const mean = meanPattern(scan.diffraction, npos, n);
  const xrf = xrfData(h);
  const E = xrf.elements.length;
  const mode = config.mode;
  const usePtycho = mode !== "xrf", useXrf = mode !== "ptycho";

  // starting probe (modes added and orthogonalised) and, with autocorrelation, object
  const guess = initialProbe(scan, config, mean);
  const K = config.probe.modes;
  const fromFile = h.probeGuess !== undefined && config.probe.init !== "mean-diffraction";
  const ac = config.init === "autocorrelation" && usePtycho
    ? autocorrelationInit(scan.diffraction, npos, n, geometry.windows, { modes: K })
    : null;
  const probe = withModes(ac && !fromFile ? { modes: K, n, data: ac.probe } : guess, K);
  if (K > 1) orthogonaliseProbeModes(probe, n);

  const problem: EngineProblem = {
    windows: geometry.windows, modes: K, diffraction: scan.diffraction, ptychoModel: config.noise.ptycho,
    ...(useXrf ? { xrf: { ...xrf, model: config.noise.xrf } } : {}),
  };
  await engine.load(problem);

  // fixed scales of the data terms
  let counts = 0;
  for (const v of mean) counts += v;
  const scaleP = Math.max(1e-30, counts * npos);
  let scaleX = 0;
  for (const v of xrf.measured) scaleX += config.noise.xrf === "lsq" ? v * v : Math.abs(v);
  scaleX = Math.max(1e-30, scaleX);

  // variables
  const amplitude = objectAmplitude(mean, probe);
  const link = mode === "joint" ? linkFor(h, config.link) : null;
  const maps = useXrf ? initialMaps(xrf.measured, xrf.sensitivity, probe, geometry.windows) : null;
  const free = mode === "joint" ? new Float32Array(HW) : null;
  if (free && link && maps) free.fill(initialFreeValue(link, maps, xrf.elements, HW, amplitude, scannedMask(geometry.windows)));
  const object = new Float32Array(2 * HW);
  if (mode === "ptycho") {
    if (ac) object.set(ac.object);
    else for (let p = 0; p < HW; p++) object[2 * p] = amplitude;
  }
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
  const adam = (size: number) => new Adam(size, beta1, beta2);
  let adamMaps = maps ? xrf.elements.map(() => adam(HW)) : [];
  let adamFree = free ? adam(HW) : null;
  let adamObject = mode === "ptycho" ? adam(2 * HW) : null;
  let adamProbe = adam(probe.length);
  const gMapsP = new Float32Array(E * HW), gFreeP = new Float32Array(HW), gFreeA = new Float32Array(HW);
  const gMaps = new Float32Array(E * HW), gMapsA = new Float32Array(E * HW);
  const gProbe = new Float32Array(probe.length), gObj = new Float32Array(2 * HW), gAtv = new Float32Array(2 * HW);
  const gn = gradNormInit();
  if (config.weights.strategy === "fixed") {
    const s = config.weights.ptycho + config.weights.xrf;
    gn.weights = [(2 * config.weights.ptycho) / s, (2 * config.weights.xrf) / s];
  } else if (config.weights.strategy === "likelihood") {
    // the plain sum of the two data terms, L_p + L_x (the joint likelihood when both are Poisson)
    gn.weights = [(2 * scaleP) / (scaleP + scaleX), (2 * scaleX) / (scaleP + scaleX)];
  }
  const groups = ["maps", "free", "object", "probe"] as const;
  const plateau = config.plateau.enabled
    ? Object.fromEntries(groups.map((g) => [g, new PlateauScheduler(config.plateau)])) as Record<(typeof groups)[number], PlateauScheduler>
    : null;
  const rateScale: Record<(typeof groups)[number], number> = { maps: 1, free: 1, object: 1, probe: 1 };
  const atvSpec = { p: config.atv.p, q: config.atv.q, eps: config.atv.eps };
  const atvMin = 10 * atvFloor(atvSpec);
  let fixedGamma: number | null = null;
  const rng = new Rng(config.seed, 0xba7c);
  const corners = Float64Array.from(geometry.windows.corner);
  const nominal = Float64Array.from(corners);
  const refiner = config.positions.refine && usePtycho
    ? new PositionRefiner(npos, { method: config.positions.method, rate: config.positions.rate, maxStep: config.positions.maxStep, bounds: { height: H, width: W, n } })
    : null;
  const history = new History({ mode, engine: engine.name });
  const state: ReconstructionState = { object, probe, maps, free };
  const batchSize = (it: number) => config.batches.growth === "full" ? npos
    : batchSchedule({ growth: config.batches.growth, start: config.batches.start, factor: config.batches.factor, every: config.batches.every, ...(config.batches.max !== null ? { max: config.batches.max } : {}) }, it, npos);
  const optimisers = (): Record<string, Adam> => ({
    ...Object.fromEntries(adamMaps.map((a, e) => [`maps.${e}`, a])),
    ...(adamFree ? { free: adamFree } : {}),
    ...(adamObject ? { object: adamObject } : {}),
    probe: adamProbe,
  });
  let first = 0;
  if (options.resume) {
    first = restoreSnapshot(options.resume, { config, state, optimisers: optimisers(), gn, rateScale, plateau, corners, refiner, history });
    fixedGamma = options.resume.meta.fixedGamma ?? null;
    // the mini-batch draws of the iterations already done, so that later epochs draw what they would have
    for (let it = 0; it < first; it++) if (batchSize(it) < npos) epochBatches(npos, batchSize(it), rng);
    updateObject();
    if (refiner) {
      geometry.windows = windowsFromCorners(corners, { height: H, width: W }, n, { subpixel: config.subpixel, clamp: true });
      await engine.setWindows(geometry.windows);
    }
  }
  const t0 = performance.now() - 1000 * (options.resume?.meta.elapsed_s ?? 0);

  for (let it = first; it < config.iterations; it++) {
    const refine = config.probe.refine && mode !== "xrf" && it >= config.probe.refineAfter;
    const movePositions = refiner !== null && it >= config.positions.refineAfter;
    const noise = noiseModelAt(it, { target: config.noise.ptycho, warmup: config.noise.switchAfter, ...(config.noise.switchScale !== null ? { scale: config.noise.switchScale } : {}) });
    const f = cosineFactor(it, config.iterations, config.finalRateFraction);
    const size = batchSize(it);
    const batches: (Int32Array | null)[] = size >= npos ? [null] : epochBatches(npos, size, rng);
    const rates: Record<string, number> = {};
    const epoch = { lp: 0, lx: 0, atv: 0, wp: 0, wx: 0 };

    for (const batch of batches) {
      const frac = batch ? batch.length / npos : 1;
      const res: EvalResult = await engine.evaluate(
        { object, probe, ...(maps ? { maps } : {}) },
        {
          ptycho: usePtycho, xrf: useXrf, probeGradient: refine, ptychoModel: noise.model,
          ...(movePositions ? { positionGradient: true } : {}), ...(batch ? { positions: batch } : {}),
        },
      );
      const sp = noise.scale / (scaleP * frac), sx = 1 / (scaleX * frac);
      const lp = res.lossPtycho * sp, lx = res.lossXrf * sx;
      let wp = mode === "ptycho" ? 1 : 0, wx = mode === "xrf" ? 1 : 0;

      if (mode === "joint") {
        linkVjp(link!, mapView(maps!), free!, object, res.gObject, mapView(gMapsP), gFreeP);
        const np = norm(gMapsP) * sp, nx = norm(res.gMaps!) * sx;
        [wp, wx] = config.weights.strategy === "gradnorm"
          ? gradNormUpdate(gn, [lp, lx], [np, nx], config.weights.alpha, config.weights.rate)
          : gn.weights;
        const ap = wp * sp, ax = wx * sx;
        for (let i = 0; i < gMaps.length; i++) gMaps[i] = ap * gMapsP[i] + ax * res.gMaps![i];
        for (let i = 0; i < HW; i++) gFreeP[i] *= ap;
      } else if (mode === "xrf") {
        for (let i = 0; i < gMaps.length; i++) gMaps[i] = sx * res.gMaps![i];
      } else {
        for (let i = 0; i < gObj.length; i++) gObj[i] = sp * res.gObject[i];
      }

      // adaptive total variation: weight set so that ATV = ratio x data loss
      const dataLoss = (usePtycho ? wp * lp : 0) + (useXrf ? wx * lx : 0);
      let atvLoss = 0;
      if (config.atv.ratio > 0 && usePtycho) {
        const value = atv(object, H, W, { kind: "complex", ...atvSpec });
        let gamma = adaptiveGamma(dataLoss, value, config.atv.ratio, { floor: atvMin });
        if (!config.atv.adaptive) {
          if (fixedGamma === null && gamma > 0) fixedGamma = gamma; // held from the first step with a TV
          gamma = fixedGamma ?? 0;
        }
        if (gamma > 0) {
          atvLoss += gamma * value;
          gAtv.fill(0);
          atv(object, H, W, { kind: "complex", ...atvSpec }, gAtv, gamma);
          if (mode === "ptycho") for (let i = 0; i < gObj.length; i++) gObj[i] += gAtv[i];
          else {
            linkVjp(link!, mapView(maps!), free!, object, gAtv, mapView(gMapsA), gFreeA);
            for (let i = 0; i < gMaps.length; i++) gMaps[i] += gMapsA[i];
            for (let i = 0; i < HW; i++) gFreeP[i] += gFreeA[i];
          }
        }
      }
      if (config.atv.ratio > 0 && config.atv.maps && maps) {
        xrf.elements.forEach((_, e) => {
          const view = maps.subarray(e * HW, (e + 1) * HW);
          const value = atv(view, H, W, { kind: "real", ...atvSpec });
          const gamma = adaptiveGamma(dataLoss, value, config.atv.ratio, { floor: atvMin });
          if (gamma > 0) {
            atvLoss += gamma * value;
            atv(view, H, W, { kind: "real", ...atvSpec }, gMaps.subarray(e * HW, (e + 1) * HW), gamma);
          }
        });
      }

      if (free) {
        adamFree!.step(free, gFreeP, (rates.free = config.rates.free * freeScale * f * rateScale.free));
        // the exponential link's free map is the matrix's areal density: non-negative like the element maps
        if (link?.type === "exponential") for (let p = 0; p < HW; p++) if (free[p] < 0) free[p] = 0;
      }
      if (adamObject) adamObject.step(object, gObj, (rates.object = config.rates.object * amplitude * f * rateScale.object));
      if (maps) {
        xrf.elements.forEach((el, e) => {
          const view = maps.subarray(e * HW, (e + 1) * HW);
          adamMaps[e].step(view, gMaps.subarray(e * HW, (e + 1) * HW), (rates[`map_${el}`] = config.rates.maps * mapScale[e] * f * rateScale.maps));
          for (let p = 0; p < HW; p++) if (view[p] < 0) view[p] = 0;
        });
      }
      if (refine) {
        const ap = wp * sp, ax = wx * sx;
        for (let i = 0; i < gProbe.length; i++) gProbe[i] = (res.gProbePtycho ? ap * res.gProbePtycho[i] : 0) + (res.gProbeXrf ? ax * res.gProbeXrf[i] : 0);
        adamProbe.step(probe, gProbe, (rates.probe = config.rates.probe * probeScale * f * rateScale.probe));
      }
      if (movePositions && res.gPositions) {
        refiner!.step(corners, res.gPositions, batch ?? undefined);
        if (config.positions.affine) corners.set(projectAffine(nominal, corners).corners);
        geometry.windows = windowsFromCorners(corners, { height: H, width: W }, n, { subpixel: config.subpixel, clamp: true });
        await engine.setWindows(geometry.windows);
        rates.positions = refiner!.rate;
      }
      updateObject();
      epoch.lp += frac * lp;
      epoch.lx += frac * lx;
      epoch.atv += frac * atvLoss;
      epoch.wp += frac * wp;
      epoch.wx += frac * wx;
    }

    // once per epoch: probe modes, recentring, phase normalisation, plateau schedules
    if (refine && K > 1) {
      orthogonaliseProbeModes(probe, n);
      adamProbe = adam(probe.length);
    }
    if (refine && config.probe.recentre) {
      const { dy, dx } = recentreProbe(probe, n, { minShift_px: 0.1 });
      if (dy !== 0 || dx !== 0) {
        if (mode === "ptycho") {
          shiftImage(object, H, W, dy, dx);
          adamObject = adam(2 * HW);
        } else if (maps && free) {
          for (let e = 0; e < E; e++) {
            const view = shiftRealImage(maps.subarray(e * HW, (e + 1) * HW), H, W, dy, dx);
            for (let p = 0; p < HW; p++) if (view[p] < 0) view[p] = 0;
          }
          shiftRealImage(free, H, W, dy, dx);
          adamMaps = xrf.elements.map(() => adam(HW));
          adamFree = adam(HW);
          updateObject();
        }
        adamProbe = adam(probe.length);
      }
    }
    const search = config.positions.search;
    if (movePositions && search.radius > 0 && it > config.positions.refineAfter && (it - config.positions.refineAfter) % search.every === 0) {
      const { moved } = await searchPositions(engine, { object, probe }, corners, scan.diffraction, noise.model, { height: H, width: W }, n, {
        radius: search.radius, step: search.step, subpixel: config.subpixel,
      });
      if (config.positions.affine && moved.length) corners.set(projectAffine(nominal, corners).corners);
      refiner!.resetPositions(moved);
      geometry.windows = windowsFromCorners(corners, { height: H, width: W }, n, { subpixel: config.subpixel, clamp: true });
      await engine.setWindows(geometry.windows);
      rates.positions_searched = moved.length;
    }
    if (refine && config.probe.normalise && mode === "ptycho") {
      const { factor } = normaliseProbePhase(probe, n);
      scaleComplex(object, inverseFactor(factor));
    }
    const losses: Record<string, number> = {};
    const weights: Record<string, number> = {};
    if (usePtycho) { losses.ptycho = epoch.lp; weights.ptycho = epoch.wp; }
    if (useXrf) { losses.xrf = epoch.lx; weights.xrf = epoch.wx; }
    if (config.atv.ratio > 0) losses.atv = epoch.atv;
    losses.total = (usePtycho ? epoch.wp * epoch.lp : 0) + (useXrf ? epoch.wx * epoch.lx : 0) + epoch.atv;
    if (plateau) for (const g of groups) rateScale[g] = plateau[g].step(losses.total);
    if (batches.length > 1) rates.batch = size;
    const record: IterationRecord = { iteration: it + 1, time_s: (performance.now() - t0) / 1000, losses, weights, steps: rates };
    await options.onIteration?.(record, state, geometry);
    history.append(record);
    await options.onCheckpoint?.(it + 1, () => {
      const snapshot = captureSnapshot(it + 1, (performance.now() - t0) / 1000, { config, state, optimisers: optimisers(), gn, rateScale, plateau, corners, refiner, history });
      snapshot.meta.fixedGamma = fixedGamma;
      return snapshot;
    });
  }

  return {
    ...state,
    config, geometry, link, elements: xrf.elements, modes: K, frameSize: n, history,
    engine: { name: engine.name, device: engine.device },
    wall_s: (performance.now() - t0) / 1000,
  };
}

/** What a snapshot captures and restores (the loop's own objects, by reference). */
interface LoopState {
  config: SolverConfig;
  state: ReconstructionState;
  optimisers: Record<string, Adam>;
  gn: GradNormState;
  rateScale: Record<string, number>;
  plateau: Record<string, PlateauScheduler> | null;
  corners: Float64Array;
  refiner: PositionRefiner | null;
  history: History;
}

function captureSnapshot(iteration: number, elapsed_s: number, s: LoopState): SolverSnapshot {
  const arrays: SolverSnapshot["arrays"] = { object: Float32Array.from(s.state.object), probe: Float32Array.from(s.state.probe) };
  if (s.state.maps) arrays.maps = Float32Array.from(s.state.maps);
  if (s.state.free) arrays.free = Float32Array.from(s.state.free);
  const adam: Record<string, number> = {};
  for (const [name, a] of Object.entries(s.optimisers)) {
    arrays[`adam.${name}.m`] = Float32Array.from(a["m"]);
    arrays[`adam.${name}.v`] = Float32Array.from(a["v"]);
    adam[name] = a["t"];
  }
  if (s.refiner) {
    arrays["positions.corners"] = Float64Array.from(s.corners);
    arrays["positions.m"] = Float64Array.from(s.refiner["m"]);
    arrays["positions.v"] = Float64Array.from(s.refiner["v"]);
    arrays["positions.t"] = Int32Array.from(s.refiner["t"]);
  }
  return {
    meta: {
      version: 1, mode: s.config.mode, iteration, iterations: s.config.iterations, elapsed_s, adam,
      gradnorm: { weights: [...s.gn.weights], initialLosses: s.gn.initialLosses ? [...s.gn.initialLosses] : null },
      rateScale: { ...s.rateScale },
      plateau: s.plateau ? Object.fromEntries(Object.entries(s.plateau).map(([g, p]) => {
        const st = p.state();
        return [g, { ...st, best: Number.isFinite(st.best) ? st.best : null }];
      })) : null,
      refiner: s.refiner ? { rate: s.refiner.rate, gradientScale: s.refiner["gradientScale"] } : null,
      history: s.history.records.map((r) => structuredClone(r)),
    },
    arrays,
  };
}

/** Puts a snapshot's state into the loop's objects; returns the iterations done. Mismatches throw ConfigError. */
function restoreSnapshot(snap: SolverSnapshot, s: LoopState): number {
  const m = snap.meta;
  const problems: string[] = [];
  if (m.version !== 1) problems.push(`snapshot version ${String(m.version)} (expected 1)`);
  if (m.mode !== s.config.mode) problems.push(`snapshot of mode ${m.mode}, run in mode ${s.config.mode}`);
  if (m.iterations !== s.config.iterations) problems.push(`snapshot of a ${m.iterations}-iteration run, this run has ${s.config.iterations}`);
  if (!(Number.isInteger(m.iteration) && m.iteration >= 0 && m.iteration <= s.config.iterations)) problems.push(`snapshot iteration ${m.iteration}`);
  const put = (name: string, target: Float32Array | Float64Array | Int32Array | null) => {
    const src = snap.arrays[name];
    if (!target) return;
    if (!src || src.length !== target.length || src.constructor !== target.constructor) {
      problems.push(`snapshot array ${name}: ${src ? `${src.constructor.name}[${src.length}]` : "missing"}, expected ${target.constructor.name}[${target.length}]`);
      return;
    }
    target.set(src as never);
  };
  if (problems.length) throw new ConfigError(problems);
  put("object", s.state.object);
  put("probe", s.state.probe);
  put("maps", s.state.maps);
  put("free", s.state.free);
  for (const [name, a] of Object.entries(s.optimisers)) {
    if (!(name in m.adam)) problems.push(`snapshot has no Adam state for ${name}`);
    put(`adam.${name}.m`, a["m"]);
    put(`adam.${name}.v`, a["v"]);
    a["t"] = m.adam[name] ?? 0;
  }
  s.gn.weights = [m.gradnorm.weights[0], m.gradnorm.weights[1]];
  s.gn.initialLosses = m.gradnorm.initialLosses ? [m.gradnorm.initialLosses[0], m.gradnorm.initialLosses[1]] : null;
  Object.assign(s.rateScale, m.rateScale);
  if (s.plateau) {
    for (const [g, p] of Object.entries(s.plateau)) {
      const st = m.plateau?.[g];
      if (!st) problems.push(`snapshot has no plateau state for ${g}`);
      else p["s"] = { ...st, best: st.best ?? Infinity };
    }
  }
  if (s.refiner) {
    put("positions.corners", s.corners);
    put("positions.m", s.refiner["m"]);
    put("positions.v", s.refiner["v"]);
    put("positions.t", s.refiner["t"]);
    if (m.refiner) {
      s.refiner.rate = m.refiner.rate;
      s.refiner["gradientScale"] = m.refiner.gradientScale;
    }
  }
  if (problems.length) throw new ConfigError(problems);
  for (const r of m.history) s.history.append(r);
  return m.iteration;
}

/** K probe modes from a guess with fewer (extra modes: 10 % of the first's power, shifted by k pixels) or more. */
function withModes(guess: ProbeModes, K: number): Float32Array {
  const { n } = guess, nn = n * n;
  if (guess.modes === K) return Float32Array.from(guess.data);
  const out = new Float32Array(2 * K * nn);
  out.set(guess.data.subarray(0, 2 * Math.min(K, guess.modes) * nn));
  for (let k = guess.modes; k < K; k++) {
    const a = Math.sqrt(0.1 / (K - 1));
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const src = 2 * (((y + k) % n) * n + x), dst = 2 * (k * nn + y * n + x);
        out[dst] = a * guess.data[src];
        out[dst + 1] = a * guess.data[src + 1];
      }
    }
  }
  return out;
}

/** mode "rpie": the classic ptychographic engine on the same scan, start and history conventions. */
async function reconstructRpie(scan: LoadedScan, config: SolverConfig, options: ReconstructOptions): Promise<Reconstruction> {
  const geometry0 = scanGeometry(scan.header, config.subpixel, options.grid);
  const ac = config.init === "autocorrelation"
    ? autocorrelationInit(scan.diffraction, scan.header.npos, scan.header.frameSize, geometry0.windows, { modes: config.probe.modes })
    : null;
  const r = await runRpie(scan, {
    iterations: config.iterations, alpha: config.rpie.alpha, beta: config.rpie.beta,
    probeRefine: config.probe.refine, refineAfter: config.probe.refineAfter, seed: config.seed,
    subpixel: config.subpixel, probeInit: config.probe.init,
    ...(options.grid ? { grid: options.grid } : {}),
    ...(ac ? { initial: { object: ac.object, ...(scan.header.probeGuess ? {} : { probe: ac.probe }) } } : {}),
    ...(options.onIteration ? { onIteration: options.onIteration } : {}),
  });
  return {
    object: r.object, probe: r.probe, maps: null, free: null,
    config, geometry: r.geometry, link: null, elements: scan.header.xrf.elements.map((e) => e.symbol),
    modes: r.modes, frameSize: scan.header.frameSize, history: r.history,
    engine: { name: "rpie", device: "cpu: src/physics operators, 1 thread" },
    wall_s: r.wall_s,
  };
}
