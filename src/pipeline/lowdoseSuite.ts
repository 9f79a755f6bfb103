/**
 * The low-dose suite (`ptyxrf compare --suite lowdose`): the DAP paper's setting (15 x 15 raster, probe 64,
 * overlap 0.5, Poisson counts with at most P photons in the brightest pattern) simulated at each dose, and
 * reconstructed by four methods with the same number of iterations:
 *
 *   plain      ptychography alone, Gaussian (amplitude) noise model, full batch
 *   dap        ptychography alone with the DAP toolkit: Gaussian for the first half then Poisson (scaled for a
 *              continuous gradient), TV (its weight set by the ratio at the first step and then held: with
 *              losses that reach zero at a perfect fit, DAP's dynamic weight fades as the fit reaches the noise),
 *              growing mini-batches, plateau schedules
 *   rpie       the regularised ptychographic iterative engine
 *   joint_dap  the joint ptychography + XRF reconstruction with the same DAP settings (but a dynamic TV weight
 *              at a fifth of the ratio: the XRF term regularises the object too), a Poisson XRF term and
 *              the two terms summed as they are (their joint likelihood) rather than balanced by GradNorm: at
 *              these doses the XRF maps hold a few counts, and GradNorm would give them the ptychography's weight
 *
 * Each is scored against the truth: the object's relative error and cPCC over the illuminated region, and the
 * grid-artifact power of its phase (spectral power at the raster's frequencies and harmonics relative to the
 * truth's: 1 = no more than the object itself has).
 */
import { alignObject } from "../metrics/errors.js";
import { gridArtifactPower } from "../metrics/gridArtifact.js";
import { illuminatedRegion } from "../metrics/illumination.js";
import { simulate } from "../sim/simulate.js";
import type { LoadedScan } from "../solver/problem.js";
import { objectRelativeError } from "../metrics/errors.js";
import type { Truth } from "../scan/model.js";
import { solve } from "./reconstructRun.js";

export const LOWDOSE_PHOTONS = [1e3, 1e4, 1e5];

export interface MethodScore {
  cpcc: number;
  rel_error: number;
  grid_artifact: number;
  wall_s: number;
}

export interface LowdoseResult {
  suite: "lowdose";
  seed: number;
  iterations: number;
  configs: Record<string, unknown>;
  doses: { photons: number; methods: Record<string, MethodScore> }[];
}

/** The DAP configuration (shared by `dap` and `joint_dap`). */
export function dapConfig(iterations: number): Record<string, unknown> {
  return {
    noise: { ptycho: "poisson", xrf: "poisson", switchAfter: Math.floor(iterations / 2) },
    atv: { ratio: 0.05, p: 2, q: 1, adaptive: false },
    batches: { growth: "geometric", start: 16, factor: 2, every: Math.max(1, Math.floor(iterations / 8)) },
    plateau: { enabled: true, factor: 0.5, patience: 10 },
  };
}

export const LOWDOSE_METHODS: Record<string, (iterations: number) => Record<string, unknown>> = {
  plain: () => ({ mode: "ptycho", noise: { ptycho: "gaussian" } }),
  dap: (it) => ({ mode: "ptycho", ...dapConfig(it) }),
  rpie: () => ({ mode: "rpie" }),
  // the joint run keeps DAP's dynamic TV weight at a fifth of the ptycho-only ratio: the XRF term already
  // regularises the object through the shared maps. Measured (seed 1, 200 iterations, object error):
  // 1e3 photons: ratio 0.05 -> 0.123, 0.01 -> 0.081, 0 -> 0.094; held from the first step (ratio 0.05) it
  // over-smooths the joint start (element maps from a few XRF counts): 1e4 photons 0.084 vs 0.049
  joint_dap: (it) => ({ mode: "joint", ...dapConfig(it), atv: { ratio: 0.01, p: 2, q: 1, adaptive: true }, weights: { strategy: "likelihood" } }),
};

function rasterStep(truth: Truth): number {
  const c = truth.positions_px, n = c.length / 2;
  const d: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let j = 0; j < n; j++) {
      if (j !== i) {
        const r = Math.hypot(c[2 * i] - c[2 * j], c[2 * i + 1] - c[2 * j + 1]);
        if (r > 1e-6) best = Math.min(best, r);
      }
    }
    d.push(best);
  }
  d.sort((a, b) => a - b);
  return d[d.length >> 1];
}

function phaseOf(object: ArrayLike<number>): Float32Array {
  const out = new Float32Array(object.length / 2);
  for (let p = 0; p < out.length; p++) out[p] = Math.atan2(object[2 * p + 1], object[2 * p]);
  return out;
}

export async function runLowdoseSuite(options: {
  seed: number; iterations: number; engine?: string; threads?: number; photons?: number[];
  methods?: string[]; onProgress?: (line: string) => void;
}): Promise<LowdoseResult> {
  const methods = options.methods ?? Object.keys(LOWDOSE_METHODS);
  const configs = Object.fromEntries(methods.map((m) => [m, LOWDOSE_METHODS[m](options.iterations)]));
  const result: LowdoseResult = { suite: "lowdose", seed: options.seed, iterations: options.iterations, configs, doses: [] };
  for (const photons of options.photons ?? LOWDOSE_PHOTONS) {
    const sim = simulate({ preset: "lowdose", seed: options.seed, maxPatternPhotons: photons });
    const { npos, frameSize: n } = sim.header;
    const diffraction = new Float32Array(new SharedArrayBuffer(4 * npos * n * n));
    diffraction.set(sim.frames.frames(0, npos));
    const scan: LoadedScan = { header: sim.header, diffraction, source: `sim:lowdose:${photons}` };
    const truth = sim.truth;
    const { height: H, width: W } = truth.object;
    const step = rasterStep(truth);
    const truthPhase = phaseOf(truth.object.data);
    const scores: Record<string, MethodScore> = {};
    for (const m of methods) {
      const config = { ...configs[m], iterations: options.iterations, seed: options.seed, ...(options.engine ? { engine: options.engine } : {}), ...(options.threads ? { threads: options.threads } : {}) };
      const { reconstruction: r, errors } = await solve({ scan, truth }, config);
      const mask = illuminatedRegion(truth.probe, r.geometry.windows).mask;
      const fit = objectRelativeError(r.object, truth.object.data, mask);
      const phase = phaseOf(alignObject(r.object, fit.scale));
      const grid = gridArtifactPower(phase, truthPhase, H, W, step, step, { mask });
      scores[m] = { cpcc: errors!.object_cpcc!, rel_error: errors!.object_rel_error!, grid_artifact: grid.ratio, wall_s: r.wall_s };
      options.onProgress?.(`${photons.toExponential(0)} photons  ${m.padEnd(9)}  rel. error ${scores[m].rel_error.toFixed(4)}  cPCC ${scores[m].cpcc.toFixed(4)}  grid artifact ${scores[m].grid_artifact.toFixed(2)}  (${r.wall_s.toFixed(1)} s)`);
    }
    result.doses.push({ photons, methods: scores });
  }
  return result;
}
