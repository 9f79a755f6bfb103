/**
 * The reference engine: the Engine interface on the src/physics operators (float64 scratch, one thread).
 * Slow and exact; the yardstick of the parity tests and a fallback where no fast engine runs.
 */
import type { ScanWindows } from "../physics/geometry.js";
import { ptychoPositionGradient } from "../physics/positionGradient.js";
import { ptychoIntensities, ptychoLossGradient } from "../physics/ptycho.js";
import { xrfLoss } from "../physics/losses.js";
import { xrfAdjoint, xrfForward, xrfProbeGradient } from "../physics/xrf.js";
import type { Engine, EngineProblem, EngineState, EvalRequest, EvalResult } from "./engine.js";

type Maps = Record<string, Float32Array>;

export class ReferenceEngine implements Engine {
  readonly name = "reference";
  readonly device = "cpu: reference operators, 1 thread";
  private p: EngineProblem | null = null;
  private out: EvalResult | null = null;
  private gPos64: Float64Array = new Float64Array(0);

  async load(problem: EngineProblem): Promise<void> {
    this.p = problem;
    const { height, width, n } = problem.windows;
    const e = problem.xrf?.elements.length ?? 0;
    const probeLen = 2 * problem.modes * n * n;
    this.out = {
      lossPtycho: 0, lossXrf: 0,
      gObject: new Float32Array(2 * height * width),
      gProbePtycho: new Float32Array(probeLen),
      gMaps: e ? new Float32Array(e * height * width) : null,
      gProbeXrf: new Float32Array(probeLen),
      gPositions: new Float32Array(2 * problem.windows.count),
    };
    this.gPos64 = new Float64Array(2 * problem.windows.count);
  }

  async setWindows(windows: ScanWindows): Promise<void> {
    const p = this.problem();
    const w = p.windows;
    if (windows.height !== w.height || windows.width !== w.width || windows.n !== w.n || windows.count !== w.count) {
      throw new Error(
        `reference engine: setWindows needs the loaded ${w.count} positions of ${w.n}x${w.n} windows on the ` +
          `${w.height}x${w.width} object, got ${windows.count} of ${windows.n}x${windows.n} on ${windows.height}x${windows.width}`,
      );
    }
    const copy: ScanWindows = {
      height: windows.height, width: windows.width, n: windows.n, count: windows.count,
      corner: Float64Array.from(windows.corner), iy: Int32Array.from(windows.iy), ix: Int32Array.from(windows.ix),
      fy: Float64Array.from(windows.fy), fx: Float64Array.from(windows.fx),
    };
    for (let j = 0; j < copy.count; j++) {
      if (!(copy.iy[j] >= 0 && copy.iy[j] + copy.n <= copy.height && copy.ix[j] >= 0 && copy.ix[j] + copy.n <= copy.width)) {
        throw new Error(`reference engine: window ${j} at corner (${copy.iy[j]}, ${copy.ix[j]}) does not fit the ${copy.height}x${copy.width} object`);
      }
    }
    this.p = { ...p, windows: copy };
  }

  private problem(): EngineProblem {
    if (!this.p) throw new Error("reference engine: load() a problem first");
    return this.p;
  }

  private mapViews(maps: Float32Array): Maps {
    const p = this.problem();
    const hw = p.windows.height * p.windows.width;
    return Object.fromEntries(p.xrf!.elements.map((el, e) => [el, maps.subarray(e * hw, (e + 1) * hw)]));
  }

  private sensitivities(): Record<string, number> {
    const x = this.problem().xrf!;
    return Object.fromEntries(x.elements.map((el, e) => [el, x.sensitivity[e]]));
  }

  private positions(req?: EvalRequest): Int32Array {
    const count = this.problem().windows.count;
    return req?.positions ?? Int32Array.from({ length: count }, (_, i) => i);
  }

  async evaluate(state: EngineState, req: EvalRequest): Promise<EvalResult> {
    const p = this.problem();
    const out = this.out!;
    const nn = p.windows.n * p.windows.n;
    const positions = this.positions(req);
    const model = req.ptychoModel ?? p.ptychoModel;
    out.gObject.fill(0);
    out.gProbePtycho!.fill(0);
    out.gProbeXrf!.fill(0);
    out.gMaps?.fill(0);
    out.lossPtycho = 0;
    out.lossXrf = 0;
    const posGrad = !!req.positionGradient && req.ptycho;
    if (posGrad) this.gPos64.fill(0);
    if (req.ptycho) {
      for (const j of positions) {
        const measured = p.diffraction.subarray(j * nn, (j + 1) * nn);
        out.lossPtycho += ptychoLossGradient(
          state.object, state.probe, p.windows, j, 1, measured, model,
          out.gObject, req.probeGradient ? out.gProbePtycho : null, { background: p.background ?? 0 },
        );
        if (posGrad) {
          ptychoPositionGradient(state.object, state.probe, p.windows, j, 1, measured, model, this.gPos64, {
            background: p.background ?? 0,
          });
        }
      }
    }
    if (posGrad) out.gPositions!.set(this.gPos64);
    if (req.xrf) {
      if (!p.xrf || !state.maps) throw new Error("reference engine: the XRF term needs xrf data and state.maps");
      const maps = this.mapViews(state.maps);
      const gMaps = this.mapViews(out.gMaps!);
      const sens = this.sensitivities();
      const npos = p.windows.count;
      const one = Object.fromEntries(p.xrf.elements.map((el) => [el, new Float64Array(1)]));
      const resid = Object.fromEntries(p.xrf.elements.map((el) => [el, new Float64Array(1)]));
      const grad = new Float64Array(1);
      for (const j of positions) {
        xrfForward(maps, sens, state.probe, p.windows, j, 1, one);
        p.xrf.elements.forEach((el, e) => {
          out.lossXrf += xrfLoss(p.xrf!.model, one[el], p.xrf!.measured.subarray(e * npos + j, e * npos + j + 1), grad);
          resid[el][0] = grad[0];
        });
        xrfAdjoint(resid, sens, state.probe, p.windows, j, 1, gMaps);
        if (req.probeGradient) xrfProbeGradient(resid, maps, sens, state.probe, p.windows, j, 1, out.gProbeXrf!);
      }
    }
    return {
      ...out,
      gProbePtycho: req.ptycho && req.probeGradient ? out.gProbePtycho : null,
      gProbeXrf: req.xrf && req.probeGradient ? out.gProbeXrf : null,
      gMaps: req.xrf ? out.gMaps : null,
      gPositions: posGrad ? out.gPositions : null,
    };
  }

  async intensities(state: EngineState, start: number, count: number): Promise<Float32Array> {
    const p = this.problem();
    const out = new Float32Array(count * p.windows.n * p.windows.n);
    ptychoIntensities(state.object, state.probe, p.windows, start, count, out, p.background ?? 0);
    return out;
  }

  async fluorescence(state: EngineState): Promise<Float32Array> {
    const p = this.problem();
    const npos = p.windows.count;
    const out = new Float32Array(p.xrf!.elements.length * npos);
    const views = Object.fromEntries(p.xrf!.elements.map((el, e) => [el, out.subarray(e * npos, (e + 1) * npos)]));
    xrfForward(this.mapViews(state.maps!), this.sensitivities(), state.probe, p.windows, 0, npos, views);
    return out;
  }

  async dispose(): Promise<void> {
    this.p = null;
    this.gPos64 = new Float64Array(0);
    this.out = null;
  }
}
