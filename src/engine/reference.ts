/**
 * The reference engine: the Engine interface on the src/physics operators (float64 scratch, one thread).
 * Slow and exact; the yardstick of the parity tests and a fallback where no fast engine runs.
 */
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
    };
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
    out.gObject.fill(0);
    out.gProbePtycho!.fill(0);
    out.gProbeXrf!.fill(0);
    out.gMaps?.fill(0);
    out.lossPtycho = 0;
    out.lossXrf = 0;
    if (req.ptycho) {
      for (const j of positions) {
        out.lossPtycho += ptychoLossGradient(
          state.object, state.probe, p.windows, j, 1, p.diffraction.subarray(j * nn, (j + 1) * nn), p.ptychoModel,
          out.gObject, req.probeGradient ? out.gProbePtycho : null, { background: p.background ?? 0 },
        );
      }
    }
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
    this.out = null;
  }
}
