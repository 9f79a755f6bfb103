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
import { gradNormInit, gradNormUpdate } from "./gradnorm.js";
import { adaptiveGamma, atv, atvFloor } from "./atv.js";
import { autocorrelationInit } from "./autocorrelation.js";
import { batchSchedule, epochBatches } from "./batches.js";
import { initialFreeValue, initialMaps, meanPattern, scannedMask, objectAmplitude, probeFromMeanPattern } from "./init.js";
import { noiseModelAt } from "./noiseSchedule.js";
import { PlateauScheduler } from "./plateau.js";
import { PositionRefiner, projectAffine, windowsFromCorners } from "./positions.js";
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
  }
  const groups = ["maps", "free", "object", "probe"] as const;
  const plateau = config.plateau.enabled
    ? Object.fromEntries(groups.map((g) => [g, new PlateauScheduler(config.plateau)])) as Record<(typeof groups)[number], PlateauScheduler>
    : null;
  const rateScale: Record<(typeof groups)[number], number> = { maps: 1, free: 1, object: 1, probe: 1 };
  const atvSpec = { p: config.atv.p, q: config.atv.q, eps: config.atv.eps };
  const atvMin = 10 * atvFloor(atvSpec);
  const rng = new Rng(config.seed, 0xba7c);
  const corners = Float64Array.from(geometry.windows.corner);
  const nominal = Float64Array.from(corners);
  const refiner = config.positions.refine && usePtycho
    ? new PositionRefiner(npos, { rate: config.positions.rate, maxStep: config.positions.maxStep, bounds: { height: H, width: W, n } })
    : null;
  const history = new History({ mode, engine: engine.name });
  const state: ReconstructionState = { object, probe, maps, free };
  const t0 = performance.now();

  for (let it = 0; it < config.iterations; it++) {
    const refine = config.probe.refine && mode !== "xrf" && it >= config.probe.refineAfter;
    const movePositions = refiner !== null && it >= config.positions.refineAfter;
    const noise = noiseModelAt(it, { target: config.noise.ptycho, warmup: config.noise.switchAfter, ...(config.noise.switchScale !== null ? { scale: config.noise.switchScale } : {}) });
    const f = cosineFactor(it, config.iterations, config.finalRateFraction);
    const size = config.batches.growth === "full" ? npos
      : batchSchedule({ growth: config.batches.growth, start: config.batches.start, factor: config.batches.factor, every: config.batches.every, ...(config.batches.max !== null ? { max: config.batches.max } : {}) }, it, npos);
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
        const gamma = adaptiveGamma(dataLoss, value, config.atv.ratio, { floor: atvMin });
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

      if (free) adamFree!.step(free, gFreeP, (rates.free = config.rates.free * freeScale * f * rateScale.free));
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
  }

  return {
    ...state,
    config, geometry, link, elements: xrf.elements, modes: K, frameSize: n, history,
    engine: { name: engine.name, device: engine.device },
    wall_s: (performance.now() - t0) / 1000,
  };
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
