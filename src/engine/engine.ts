/**
 * The engine interface: the hot loop of a reconstruction (batched exit waves, FFTs, loss and gradient,
 * scatter-add into object and probe, XRF forward and adjoint). Everything else (links, regularisers,
 * optimisers, GradNorm) is written once in src/solver and talks to an engine only through this file.
 *
 * Conventions (DESIGN.md, src/physics): complex arrays are interleaved re/im Float32Array; gradients are
 * Wirtinger derivatives dL/dz* (the real gradient d/dRe + i d/dIm is twice that); losses are the ones of
 * src/physics/losses.ts (Poisson shifted so a perfect fit scores 0; XRF least squares is sum (X - M)^2).
 * The reference implementation of every kernel is src/physics; engines are held to it by parity tests.
 */
import type { ScanWindows } from "../physics/geometry.js";
import type { PtychoNoiseModel, XrfNoiseModel } from "../physics/losses.js";

export type { PtychoNoiseModel, XrfNoiseModel };

export interface XrfProblem {
  /** Element symbols, in the order of the maps in EngineState.maps. */
  elements: string[];
  /** s_e, one per element. */
  sensitivity: Float32Array;
  /** Measured fluorescence, [E, npos] (element-major). */
  measured: Float32Array;
  model: XrfNoiseModel;
}

export interface EngineProblem {
  windows: ScanWindows;
  /** Probe modes K. */
  modes: number;
  /**
   * Measured counts [npos, N, N]. May be backed by a SharedArrayBuffer: an engine adopts it without
   * copying (the diffraction stack is held once).
   */
  diffraction: Float32Array;
  ptychoModel: PtychoNoiseModel;
  /** Constant background added to the model intensities. */
  background?: number;
  xrf?: XrfProblem;
}

export interface EngineState {
  /** Complex object H x W. */
  object: Float32Array;
  /** Complex probe modes K x N x N. */
  probe: Float32Array;
  /** Element maps [E, H, W] for the XRF term (required when the XRF term is requested). */
  maps?: Float32Array;
}

export interface EvalRequest {
  ptycho: boolean;
  xrf: boolean;
  /** Also return dL/dP* of each requested term. */
  probeGradient: boolean;
  /** Ptychography noise model of this call (a noise-model schedule); EngineProblem.ptychoModel when absent. */
  ptychoModel?: PtychoNoiseModel;
  /** Positions of a mini-batch; all positions when absent. */
  positions?: Int32Array;
  /**
   * Also return dL_ptycho/d(corner) per position (EvalResult.gPositions). Needs `ptycho`. Costs at most one
   * extra FFT per probe mode and position (none for a sub-pixel position whose probe gradient is computed).
   */
  positionGradient?: boolean;
}

/** Buffers are owned by the engine and valid until the next call of evaluate. */
export interface EvalResult {
  lossPtycho: number;
  lossXrf: number;
  /** dL_ptycho/dO*, complex H x W (zeros when the ptycho term was not requested). */
  gObject: Float32Array;
  /** dL_ptycho/dP*, complex K x N x N, or null. */
  gProbePtycho: Float32Array | null;
  /** dL_xrf/dc_e, [E, H, W], or null. */
  gMaps: Float32Array | null;
  /** dL_xrf/dP*, complex K x N x N, or null. */
  gProbeXrf: Float32Array | null;
  /**
   * dL_ptycho/d(y, x) of each position's continuous window corner, [npos * 2] (y then x), in loss units per
   * object pixel; null unless `positionGradient` (with `ptycho`) was requested. A positive value means the
   * loss grows when the probe window moves towards larger row (y) / column (x) indices, so a descent step
   * moves the corner by -step * g. Positions not in the call's mini-batch get 0. Positions enter through the
   * sub-pixel Fourier shift of the probe (T_f P, geometry.ts); the integer part of a corner is piecewise
   * constant, so this is dL/df of the fraction f, and it exists at integer positions too. In metres:
   * dL/dp_m = g / pixelSize. The XRF term's dependence on the positions is not included.
   */
  gPositions: Float32Array | null;
}

export interface Engine {
  /** "cpu", "tfjs"... */
  readonly name: string;
  /** What it runs on, for logs and metrics.json, e.g. "cpu: 2 threads". */
  readonly device: string;
  load(problem: EngineProblem): Promise<void>;
  /**
   * Move the scan positions of the loaded problem (position refinement): same object size, window size N and
   * number of positions; integer corners may change. Later calls use the new windows; cached shifted probes
   * are invalidated. The engine keeps its own copy (the caller may reuse the arrays).
   */
  setWindows(windows: ScanWindows): Promise<void>;
  evaluate(state: EngineState, request: EvalRequest): Promise<EvalResult>;
  /** Model intensities of positions [start, start + count) (diagnostics and tests). */
  intensities(state: EngineState, start: number, count: number): Promise<Float32Array>;
  /** Model fluorescence [E, npos] for the current state. */
  fluorescence(state: EngineState): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export interface EngineOptions {
  /** Worker threads (cpu engine); default: the number of cores. */
  threads?: number;
}
