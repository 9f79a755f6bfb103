/**
 * The tfjs engine: the Engine interface (../engine.ts) on TensorFlow.js ops. In the GPU container it runs on
 * @tensorflow/tfjs-node-gpu (CUDA through libtensorflow); everywhere else on tfjs's pure-JS CPU backend, where
 * the parity tests hold it to the cpu engine and to src/physics (backend.ts loads and checks the backend).
 *
 * Mathematics: src/physics (ptycho.ts, xrf.ts, positionGradient.ts, losses.ts) with analytic gradients, no
 * autodiff (tfjs has no gradients for FFTs or complex construction and none are needed). Complex arrays are
 * split float32 planes and F is the centred orthonormal FFT of fft.ts. Per device batch of B positions, for
 * probe modes k, with Q_k = T_f P_k = F^H(ramp . F P_k) (ramp_j = exp(-2 pi i kappa . f_j / N), computed as
 * an outer product of its y and x factors; Q_k = P_k for a batch of integer positions):
 *
 *   win   = gather(O, idx)                       idx[j, y, x] = (iy_j + y) W + ix_j + x   (flat object index)
 *   Psi_k = F(Q_k . win),  D = sum_k |Psi_k|^2 + b,  loss and dl/dD elementwise (losses.ts)
 *   g_k   = F^H(dl/dD . Psi_k)
 *   dL/dO*   += scatterND(idx, sum_k conj(Q_k) . g_k)                                   (sums duplicates)
 *   dL/dP_k* += sum_j conj(win) . g_k                     integer batch: in space
 *            += F^H( sum_j conj(ramp_j) . F(conj(win) . g_k) )   sub-pixel batch: summed in frequency over
 *                                                                  every batch of the call, one F^H at the end
 *   dL/dcorner_j = (4 pi / N) sum_k sum_kappa kappa Im(conj(F(conj(win) . g_k)) . F Q_k)   (one matMul with
 *                                                                  the [N^2, 2] kappa table)
 *   XRF: I_j = sum_k |Q_k|^2; X_ej = s_e <I_j, gather(c_e, idx_j)> (batched matMul against the [HW, E] maps);
 *        dL/dc_e += scatterND(idx, s_e r_ej I_j);  dL/dP_k* += T_{-f}(Q_k . sum_e s_e r_ej S_j c_e)
 *
 * Positions of a call are split into integer and sub-pixel ones (|f| < 1e-6 counts as integer, as in the cpu
 * engine): integer batches need no shifted probes and no extra transforms for the probe gradient.
 *
 * Memory and streaming. At load the engine keeps on the device the DFT matrices, the kappa table, the measured
 * fluorescence [npos, E] and, when it fits the budget (TfjsEngineOptions.deviceMemoryBytes), the whole
 * diffraction stack [npos, N, N]; otherwise each batch's frames are copied from the host stack (streaming).
 * Each call uploads the state (object, probe, maps: what the request needs), runs the positions in batches of
 * at most `plan.batch` (sized so that a batch's intermediates fit the budget next to the resident data; see
 * planFor), accumulates gradients on the device, and downloads only the loss scalars, the gradients and (when
 * asked) the position gradients. Every batch runs inside tf.tidy, each FFT inside its own, and every tensor
 * that outlives a tidy (accumulators, per-call inputs) is disposed in a finally block: the number of live
 * tensors after a call equals the number before it (tested).
 *
 * Index construction: on the cpu backend the flat window indices are computed on the host (tfjs-cpu's
 * broadcasting binary ops take ~100 ns per element); on other backends on the device as a float32 sum
 * off_j + base cast to int32 (exact while H W < 2^24; TensorFlow keeps int32 arithmetic in host memory on GPUs),
 * so a GPU call uploads O(B) numbers instead of O(B N^2). Host data the device reuses (stack, constants,
 * streamed frames) goes through one device op first (toDevice).
 *
 * Calls are serialised like the cpu engine's. dispose() frees every tensor; later calls throw.
 */
import * as tf from "@tensorflow/tfjs-core";
import { validateProblem, validateWindows } from "../windows.js";
import type { ScanWindows } from "../../physics/geometry.js";
import { DEFAULT_EPS, type PtychoNoiseModel, type XrfNoiseModel } from "../../physics/losses.js";
import type { Engine, EngineOptions, EngineProblem, EngineState, EvalRequest, EvalResult } from "../engine.js";
import { activate, loadRuntime, parseBytes, type TfjsBackendChoice, type TfjsRuntime } from "./backend.js";
import { abs2, cadd, cmul, cmulConj, cscale, csum, CenteredFft2, type Cx, type FftMethod } from "./fft.js";

export interface TfjsEngineOptions extends EngineOptions {
  /** Backend: "auto" (tfjs-node-gpu / tfjs-node when installed, else cpu; default), "cpu", "tensorflow". */
  backend?: TfjsBackendChoice;
  /**
   * Device memory the engine may use for its tensors, in bytes. Default: $PTYXRF_DEVICE_MEMORY_BYTES (bytes or
   * e.g. "12GiB"), else 75 % of the GPU's memory (nvidia-smi), else 2 GiB.
   */
  deviceMemoryBytes?: number;
  /** FFT: "matmul" (DFT matrices), "spectral" (tf.spectral.fft) or "auto" (matmul for N <= 64 or on the cpu backend). */
  fft?: "auto" | FftMethod;
  /** Diffraction stack: on the device when it fits ("auto", default), always ("resident") or streamed per batch. */
  diffraction?: "auto" | "resident" | "stream";
  /** At most this many positions per device batch (default: as many as the memory budget allows). */
  maxBatch?: number;
  /** Window indices computed on the "host" or the "device" (default: host on the cpu backend). */
  indices?: "auto" | "host" | "device";
  /** Where `create` reports a backend fallback (default: one line on stderr). */
  log?: (line: string) => void;
}

/** How a loaded problem runs (TfjsEngine.plan). */
export interface TfjsPlan {
  fft: FftMethod;
  /** The diffraction stack lives on the device (false: streamed per batch). */
  resident: boolean;
  /** Positions per device batch. */
  batch: number;
  budgetBytes: number;
  /** Estimated device bytes per position of a batch, and for the rest (state, accumulators, constants). */
  bytesPerPosition: number;
  fixedBytes: number;
  stackBytes: number;
  indices: "host" | "device";
}

/** Fractional shifts below this (pixels) are treated as integer positions (as in the cpu engine). */
const SUBPIXEL_TOLERANCE = 1e-6;
const PTYCHO_MODELS = ["gaussian", "poisson", "weighted"];
const DEFAULT_BUDGET = 2 * 2 ** 30;

function fail(msg: string): never {
  throw new Error(`tfjs engine: ${msg}`);
}

/**
 * Device memory plan for a problem (see the header): per position of a batch ~(14 K + 24 + 3 E) float32 frames
 * of N^2 (probe shifts, waves, gradients, FFT temporaries, XRF windows), plus the state, its gradients and
 * scatter outputs (~(8 + 3 E) H W floats) and the resident stack when it fits.
 */
export function planFor(
  dims: { n: number; modes: number; height: number; width: number; npos: number; elements: number },
  budgetBytes: number, options: { fft: FftMethod; diffraction?: "auto" | "resident" | "stream"; maxBatch?: number; indices: "host" | "device" },
): TfjsPlan {
  const { n, modes: K, height, width, npos, elements: E } = dims;
  const nn = n * n, hw = height * width;
  const bytesPerPosition = 4 * nn * (14 * K + 24 + 3 * E);
  const fixedBytes = 4 * hw * (8 + 3 * E) + 4 * nn * (16 * K + 16) + 8 * npos * (E + 2) + 4 * 16 * n * n;
  const stackBytes = 4 * npos * nn;
  const mode = options.diffraction ?? "auto";
  const resident = mode === "resident" || (mode === "auto" && stackBytes + fixedBytes + bytesPerPosition * Math.min(npos, 32) <= budgetBytes);
  const free = budgetBytes - fixedBytes - (resident ? stackBytes : 0);
  let batch = Math.min(npos, Math.floor(free / bytesPerPosition));
  if (options.maxBatch !== undefined) batch = Math.min(batch, options.maxBatch);
  if (!(batch >= 1)) {
    fail(
      `a device memory budget of ${(budgetBytes / 2 ** 20).toFixed(1)} MiB cannot hold one position of this problem ` +
        `(${(bytesPerPosition / 2 ** 20).toFixed(2)} MiB per position, ${((fixedBytes + (resident ? stackBytes : 0)) / 2 ** 20).toFixed(1)} MiB ` +
        `for state${resident ? " and the diffraction stack" : ""}): raise deviceMemoryBytes (PTYXRF_DEVICE_MEMORY_BYTES)`,
    );
  }
  return { fft: options.fft, resident, batch, budgetBytes, bytesPerPosition, fixedBytes, stackBytes, indices: options.indices };
}

/** Loss and dl/dD of one batch (losses.ts), float32 on the device; Poisson terms through log1p. */
function ptychoLoss(model: PtychoNoiseModel, D: tf.Tensor, I: tf.Tensor, eps: number): { loss: tf.Tensor; grad: tf.Tensor } {
  switch (model) {
    case "gaussian": {
      const sd = tf.sqrt(tf.add(D, eps)), a = tf.sqrt(tf.maximum(I, 0));
      return { loss: tf.sum(tf.square(tf.sub(sd, a))), grad: tf.sub(1, tf.div(a, sd)) };
    }
    case "poisson":
      return poissonLoss(D, I, eps);
    case "weighted": {
      const pos = tf.greater(I, 0), safe = tf.where(pos, I, tf.onesLike(I)), diff = tf.sub(D, I);
      const loss = tf.sum(tf.where(pos, tf.div(tf.square(diff), tf.mul(safe, 2)), D));
      return { loss, grad: tf.where(pos, tf.div(diff, safe), tf.onesLike(D)) };
    }
    default:
      return fail(`unknown ptychography noise model "${model as string}" (gaussian, poisson, weighted)`);
  }
}

/** m - c - c log(m / c) (m = model + eps, c = max(measured, 0); m where c = 0), gradient 1 - c / m. */
function poissonLoss(model: tf.Tensor, measured: tf.Tensor, eps: number): { loss: tf.Tensor; grad: tf.Tensor } {
  const m = tf.add(model, eps), c = tf.maximum(measured, 0), pos = tf.greater(c, 0);
  const safe = tf.where(pos, c, tf.onesLike(c)), d = tf.sub(m, c);
  const term = tf.where(pos, tf.sub(d, tf.mul(c, tf.log1p(tf.div(d, safe)))), m);
  return { loss: tf.sum(term), grad: tf.sub(1, tf.div(c, m)) };
}

function xrfLoss(model: XrfNoiseModel, X: tf.Tensor, M: tf.Tensor, eps: number): { loss: tf.Tensor; grad: tf.Tensor } {
  if (model === "lsq") {
    const r = tf.sub(X, M);
    return { loss: tf.sum(tf.square(r)), grad: tf.mul(r, 2) };
  }
  return poissonLoss(X, M, eps);
}

interface Loaded {
  n: number;
  K: number;
  H: number;
  W: number;
  HW: number;
  npos: number;
  E: number;
  iy: Int32Array;
  ix: Int32Array;
  fy: Float64Array;
  fx: Float64Array;
  subpixel: Uint8Array;
  diffraction: Float32Array;
  model: PtychoNoiseModel;
  background: number;
  xrfModel: XrfNoiseModel;
  fft: CenteredFft2;
  /** [npos, N, N] when resident. */
  stack: tf.Tensor3D | null;
  /** s_e [E]. */
  sens: tf.Tensor1D | null;
  /** Measured fluorescence [npos, E]. */
  measuredT: tf.Tensor2D | null;
  /** [N^2, 2]: (kappa_y, kappa_x) of each frequency pixel, kappa = k - N/2. */
  kappa: tf.Tensor2D;
  /** y W + x over the window [N^2], float32 (device indices; exact below 2^24). */
  base: tf.Tensor1D;
  plan: TfjsPlan;
  out: {
    gObject: Float32Array;
    gProbePtycho: Float32Array;
    gProbeXrf: Float32Array;
    gMaps: Float32Array;
    gPositions: Float32Array;
  };
}

/** Per-call device inputs. */
interface CallInputs {
  objRe: tf.Tensor | null;
  objIm: tf.Tensor | null;
  /** Probe modes [N, N]. */
  P: Cx[];
  /** F P_k [N, N], when a sub-pixel batch or a position gradient needs them. */
  FP: Cx[] | null;
  /** Maps [HW, E]. */
  mapsT: tf.Tensor | null;
  model: PtychoNoiseModel;
}

interface BatchFlags {
  ptycho: boolean;
  xrf: boolean;
  probeGradient: boolean;
  positionGradient: boolean;
  intensities: boolean;
  fluorescence: boolean;
}

/** Device results of one batch (every field optional). */
interface BatchOut {
  lossP?: tf.Tensor;
  lossX?: tf.Tensor;
  gObjRe?: tf.Tensor;
  gObjIm?: tf.Tensor;
  gMapsT?: tf.Tensor;
  /** Probe gradients per mode: ptycho / XRF, in space (integer batch) or frequency (sub-pixel batch). */
  gPs?: Cx[];
  gPf?: Cx[];
  gXs?: Cx[];
  gXf?: Cx[];
  gPos?: tf.Tensor;
  X?: tf.Tensor;
  D?: tf.Tensor;
}

/** prev + next (disposing both), or whichever exists. */
function accumulate(prev: tf.Tensor | undefined, next: tf.Tensor | undefined): tf.Tensor | undefined {
  if (!next) return prev;
  if (!prev) return next;
  const s = tf.add(prev, next);
  prev.dispose();
  next.dispose();
  return s;
}

function accumulateModes(prev: Cx[] | undefined, next: Cx[] | undefined): Cx[] | undefined {
  if (!next) return prev;
  if (!prev) return next;
  return prev.map((p, k) => ({ re: accumulate(p.re, next[k].re)!, im: accumulate(p.im, next[k].im)! }));
}

function disposeModes(m: Cx[] | null | undefined): void {
  for (const c of m ?? []) {
    c.re.dispose();
    c.im.dispose();
  }
}

function disposeBatch(b: BatchOut): void {
  for (const t of [b.lossP, b.lossX, b.gObjRe, b.gObjIm, b.gMapsT, b.gPos, b.X, b.D]) t?.dispose();
  for (const m of [b.gPs, b.gPf, b.gXs, b.gXf]) disposeModes(m);
}

export class TfjsEngine implements Engine {
  readonly name = "tfjs";
  readonly device: string;
  readonly runtime: TfjsRuntime;
  private readonly options: TfjsEngineOptions;
  private L: Loaded | null = null;
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();

  /** Loads the backend (options.backend, default "auto") and returns an engine on it. */
  static async create(options: TfjsEngineOptions = {}): Promise<TfjsEngine> {
    const runtime = await loadRuntime(options.backend ?? "auto");
    if (runtime.notes.length) {
      (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(`engine tfjs: ${runtime.description}; ${runtime.notes.join("; ")}`);
    }
    return new TfjsEngine(runtime, options);
  }

  constructor(runtime: TfjsRuntime, options: TfjsEngineOptions = {}) {
    this.runtime = runtime;
    this.options = options;
    this.device = runtime.description;
    if (options.maxBatch !== undefined && !(Number.isInteger(options.maxBatch) && options.maxBatch >= 1)) {
      fail(`maxBatch must be an integer >= 1, got ${options.maxBatch}`);
    }
    if (options.deviceMemoryBytes !== undefined && !(options.deviceMemoryBytes > 0)) {
      fail(`deviceMemoryBytes must be > 0, got ${options.deviceMemoryBytes}`);
    }
  }

  /** The plan of the loaded problem (batch size, resident or streamed stack, FFT method). */
  get plan(): TfjsPlan {
    return this.loaded().plan;
  }

  /** Live tfjs tensors and bytes in this process (leak checks). */
  memory(): { numTensors: number; numBytes: number } {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  }

  private run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      if (this.disposed) throw new Error(`tfjs engine: ${what} after dispose(); create a new engine`);
      await activate(this.runtime);
      return fn();
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private loaded(): Loaded {
    if (!this.L) throw new Error("tfjs engine: load() a problem first");
    return this.L;
  }

  /**
   * A tensor made from host data, moved to the device once. tfjs-node wraps host data in a host-memory
   * TensorFlow handle, and an op on the GPU copies such an input at every use (unless TensorFlow mirrors it):
   * the output of one device op is device-resident, so resident data goes through one multiply at load.
   * Identity on the cpu backend.
   */
  private toDevice<T extends tf.Tensor>(t: T): T {
    if (this.runtime.backend === "cpu") return t;
    const d = tf.mul(t, 1) as T;
    t.dispose();
    return d;
  }

  private budget(): number {
    if (this.options.deviceMemoryBytes !== undefined) return this.options.deviceMemoryBytes;
    const env = parseBytes(process.env.PTYXRF_DEVICE_MEMORY_BYTES, "PTYXRF_DEVICE_MEMORY_BYTES");
    if (env !== null) return env;
    if (this.runtime.gpuMemoryBytes) return Math.floor(0.75 * this.runtime.gpuMemoryBytes);
    return DEFAULT_BUDGET;
  }

  load(problem: EngineProblem): Promise<void> {
    return this.run("load", async () => {
      validateProblem(problem, fail);
      this.release();
      const w = problem.windows, n = w.n, nn = n * n, K = problem.modes, npos = w.count;
      const E = problem.xrf?.elements.length ?? 0, HW = w.height * w.width;
      const fftChoice = this.options.fft ?? "auto";
      const fftMethod: FftMethod = fftChoice === "auto" ? (this.runtime.backend === "cpu" || n <= 64 ? "matmul" : "spectral") : fftChoice;
      const idxChoice = this.options.indices ?? "auto";
      // device indices are float32 sums cast to int32: exact while H W < 2^24
      const indices = HW >= 2 ** 24 ? "host" : idxChoice === "auto" ? (this.runtime.backend === "cpu" ? "host" : "device") : idxChoice;
      const plan = planFor({ n, modes: K, height: w.height, width: w.width, npos, elements: E }, this.budget(), {
        fft: fftMethod, indices, ...(this.options.diffraction ? { diffraction: this.options.diffraction } : {}),
        ...(this.options.maxBatch ? { maxBatch: this.options.maxBatch } : {}),
      });
      const kappa = new Float32Array(2 * nn), base = new Float32Array(nn);
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          kappa[2 * (y * n + x)] = y - n / 2;
          kappa[2 * (y * n + x) + 1] = x - n / 2;
          base[y * n + x] = y * w.width + x;
        }
      }
      const subpixel = new Uint8Array(npos);
      const fy = Float64Array.from(w.fy.subarray(0, npos)), fx = Float64Array.from(w.fx.subarray(0, npos));
      for (let j = 0; j < npos; j++) subpixel[j] = Math.abs(fy[j]) >= SUBPIXEL_TOLERANCE || Math.abs(fx[j]) >= SUBPIXEL_TOLERANCE ? 1 : 0;
      let measuredT: tf.Tensor2D | null = null;
      if (problem.xrf) {
        const m = problem.xrf.measured, t = new Float32Array(npos * E);
        for (let e = 0; e < E; e++) for (let j = 0; j < npos; j++) t[j * E + e] = m[e * npos + j];
        measuredT = this.toDevice(tf.tensor2d(t, [npos, E]));
      }
      this.L = {
        n, K, H: w.height, W: w.width, HW, npos, E,
        iy: Int32Array.from(w.iy.subarray(0, npos)), ix: Int32Array.from(w.ix.subarray(0, npos)), fy, fx, subpixel,
        diffraction: problem.diffraction,
        model: problem.ptychoModel, background: problem.background ?? 0, xrfModel: problem.xrf?.model ?? "lsq",
        fft: new CenteredFft2(n, fftMethod, (t) => this.toDevice(t)),
        stack: plan.resident ? this.toDevice(tf.tensor3d(problem.diffraction, [npos, n, n])) : null,
        sens: problem.xrf ? this.toDevice(tf.tensor1d(Float32Array.from(problem.xrf.sensitivity))) : null,
        measuredT,
        kappa: this.toDevice(tf.tensor2d(kappa, [nn, 2])),
        base: this.toDevice(tf.tensor1d(base)),
        plan,
        out: {
          gObject: new Float32Array(2 * HW), gProbePtycho: new Float32Array(2 * K * nn), gProbeXrf: new Float32Array(2 * K * nn),
          gMaps: new Float32Array(E * HW), gPositions: new Float32Array(2 * npos),
        },
      };
    });
  }

  setWindows(windows: ScanWindows): Promise<void> {
    return this.run("setWindows", async () => {
      const L = this.loaded();
      if (windows.height !== L.H || windows.width !== L.W || windows.n !== L.n || windows.count !== L.npos) {
        fail(
          `setWindows needs the loaded ${L.npos} positions of ${L.n}x${L.n} windows on the ${L.H}x${L.W} ` +
            `object, got ${windows.count} of ${windows.n}x${windows.n} on ${windows.height}x${windows.width}`,
        );
      }
      validateWindows(windows, fail);
      const npos = L.npos;
      L.iy.set(windows.iy.subarray(0, npos));
      L.ix.set(windows.ix.subarray(0, npos));
      L.fy.set(windows.fy.subarray(0, npos));
      L.fx.set(windows.fx.subarray(0, npos));
      for (let j = 0; j < npos; j++) {
        L.subpixel[j] = Math.abs(L.fy[j]) >= SUBPIXEL_TOLERANCE || Math.abs(L.fx[j]) >= SUBPIXEL_TOLERANCE ? 1 : 0;
      }
    });
  }

  // ---- per-call inputs ---------------------------------------------------------------------------------

  private uploadInputs(state: EngineState, need: { object: boolean; maps: boolean; fp: boolean }, model: PtychoNoiseModel): CallInputs {
    const L = this.loaded();
    const nn = L.n * L.n;
    if (state.probe.length !== 2 * L.K * nn) fail(`probe holds ${state.probe.length} floats, expected K x N x N complex = ${2 * L.K * nn}`);
    if (need.object && state.object.length !== 2 * L.HW) {
      fail(`object holds ${state.object.length} floats, expected H x W complex = ${2 * L.HW}`);
    }
    if (need.maps) {
      if (L.E === 0) fail("the XRF term needs a problem with xrf data");
      if (!state.maps) fail("the XRF term needs state.maps");
      if (state.maps.length !== L.E * L.HW) fail(`maps hold ${state.maps.length} values, expected E x H x W = ${L.E * L.HW}`);
    }
    return tf.tidy(() => {
      const planes = (data: Float32Array, count: number) => {
        const t = tf.transpose(tf.tensor2d(data, [count, 2]));
        return tf.unstack(t, 0);
      };
      let objRe: tf.Tensor | null = null, objIm: tf.Tensor | null = null;
      if (need.object) [objRe, objIm] = planes(state.object, L.HW);
      const [pr, pi] = planes(state.probe, L.K * nn).map((t) => tf.reshape(t, [L.K, L.n, L.n]));
      const P: Cx[] = [];
      for (let k = 0; k < L.K; k++) {
        P.push({ re: tf.reshape(tf.slice(pr, [k, 0, 0], [1, L.n, L.n]), [L.n, L.n]), im: tf.reshape(tf.slice(pi, [k, 0, 0], [1, L.n, L.n]), [L.n, L.n]) });
      }
      const FP = need.fp ? P.map((p) => L.fft.forward(p)) : null;
      const mapsT = need.maps ? tf.transpose(tf.tensor2d(state.maps!, [L.E, L.HW])) : null;
      return { objRe, objIm, P, FP, mapsT, model } as unknown as tf.TensorContainer;
    }) as unknown as CallInputs;
  }

  private static disposeInputs(c: CallInputs | null): void {
    if (!c) return;
    c.objRe?.dispose();
    c.objIm?.dispose();
    disposeModes(c.P);
    disposeModes(c.FP);
    c.mapsT?.dispose();
  }

  // ---- one device batch --------------------------------------------------------------------------------

  /** Flat object indices [B N^2] of the windows of `pos`. */
  private indices(pos: Int32Array): tf.Tensor {
    const L = this.loaded();
    const n = L.n, nn = n * n, B = pos.length;
    if (L.plan.indices === "host") {
      const idx = new Int32Array(B * nn);
      let o = 0;
      for (let b = 0; b < B; b++) {
        const j = pos[b];
        for (let y = 0; y < n; y++) {
          const row = (L.iy[j] + y) * L.W + L.ix[j];
          for (let x = 0; x < n; x++) idx[o++] = row + x;
        }
      }
      return tf.tensor1d(idx, "int32");
    }
    // float32 on the device, then one cast: TensorFlow keeps int32 arithmetic in host memory on GPUs
    const off = new Float32Array(B);
    for (let b = 0; b < B; b++) off[b] = L.iy[pos[b]] * L.W + L.ix[pos[b]];
    return tf.cast(tf.reshape(tf.add(tf.tensor2d(off, [B, 1]), L.base), [B * nn]), "int32");
  }

  /** ramp_j = exp(-2 pi i kappa . f_j / N) for the positions of a batch, [B, N, N]. */
  private ramps(pos: Int32Array): Cx {
    const L = this.loaded();
    const n = L.n, B = pos.length;
    const yr = new Float32Array(B * n), yi = new Float32Array(B * n), xr = new Float32Array(B * n), xi = new Float32Array(B * n);
    for (let b = 0; b < B; b++) {
      const j = pos[b];
      for (let k = 0; k < n; k++) {
        const q = (-2 * Math.PI * (k - n / 2)) / n;
        yr[b * n + k] = Math.cos(q * L.fy[j]);
        yi[b * n + k] = Math.sin(q * L.fy[j]);
        xr[b * n + k] = Math.cos(q * L.fx[j]);
        xi[b * n + k] = Math.sin(q * L.fx[j]);
      }
    }
    const Yr = tf.tensor3d(yr, [B, n, 1]), Yi = tf.tensor3d(yi, [B, n, 1]);
    const Xr = tf.tensor3d(xr, [B, 1, n]), Xi = tf.tensor3d(xi, [B, 1, n]);
    return {
      re: tf.sub(tf.matMul(Yr, Xr), tf.matMul(Yi, Xi)),
      im: tf.add(tf.matMul(Yr, Xi), tf.matMul(Yi, Xr)),
    };
  }

  /** Measured frames [B, N, N] of a batch: gathered from the resident stack, or uploaded from the host. */
  private measured(pos: Int32Array, posT: tf.Tensor): tf.Tensor {
    const L = this.loaded();
    const nn = L.n * L.n, B = pos.length;
    if (L.stack) return tf.gather(L.stack, posT);
    const staging = new Float32Array(B * nn);
    for (let b = 0; b < B; b++) staging.set(L.diffraction.subarray(pos[b] * nn, (pos[b] + 1) * nn), b * nn);
    return this.toDevice(tf.tensor3d(staging, [B, L.n, L.n]));
  }

  private batch(c: CallInputs, pos: Int32Array, sub: boolean, f: BatchFlags): BatchOut {
    const L = this.loaded();
    const n = L.n, nn = n * n, B = pos.length, K = L.K, E = L.E, fft = L.fft;
    return tf.tidy(() => {
      const out: BatchOut = {};
      const idx = this.indices(pos);
      const idx2 = tf.reshape(idx, [B * nn, 1]);
      const posT = tf.tensor1d(pos, "int32");
      const ramp = sub ? this.ramps(pos) : null;
      // shifted probes Q_k (and their spectra U_k = F Q_k)
      const U: Cx[] = [], Q: Cx[] = [];
      for (let k = 0; k < K; k++) {
        if (ramp) {
          const u = cmul(ramp, c.FP![k]);
          U.push(u);
          Q.push(fft.inverse(u));
        } else {
          Q.push(c.P[k]);
          if (c.FP) U.push(c.FP[k]);
        }
      }
      if (f.ptycho || f.intensities) {
        const win: Cx = { re: tf.reshape(tf.gather(c.objRe!, idx), [B, n, n]), im: tf.reshape(tf.gather(c.objIm!, idx), [B, n, n]) };
        const Psi = Q.map((q) => fft.forward(cmul(q, win)));
        let D = abs2(Psi[0]);
        for (let k = 1; k < K; k++) D = tf.add(D, abs2(Psi[k]));
        if (L.background !== 0) D = tf.add(D, L.background);
        if (f.intensities) out.D = D;
        if (f.ptycho) {
          const { loss, grad } = ptychoLoss(c.model, D, this.measured(pos, posT), DEFAULT_EPS);
          out.lossP = loss;
          const g = Psi.map((p) => fft.inverse(cscale(p, grad)));
          let gw = cmulConj(Q[0], g[0]);
          for (let k = 1; k < K; k++) gw = cadd(gw, cmulConj(Q[k], g[k]));
          out.gObjRe = tf.scatterND(idx2, tf.reshape(gw.re, [B * nn]), [L.HW]);
          out.gObjIm = tf.scatterND(idx2, tf.reshape(gw.im, [B * nn]), [L.HW]);
          if (f.probeGradient || f.positionGradient) {
            const gS = g.map((gk) => cmulConj(win, gk)); // dL/dQ_k*
            const spectra = f.positionGradient || (ramp && f.probeGradient) ? gS.map((s) => fft.forward(s)) : null;
            if (f.probeGradient) {
              if (ramp) out.gPf = spectra!.map((s) => csum(cmulConj(ramp, s), 0));
              else out.gPs = gS.map((s) => csum(s, 0));
            }
            if (f.positionGradient) {
              let im: tf.Tensor | null = null;
              for (let k = 0; k < K; k++) {
                const s = spectra![k], u = U[k];
                const t = tf.sub(tf.mul(s.re, u.im), tf.mul(s.im, u.re)); // Im(conj(F g_Q) . F Q)
                im = im ? tf.add(im, t) : t;
              }
              out.gPos = tf.mul(tf.matMul(tf.reshape(im!, [B, nn]), L.kappa), (4 * Math.PI) / n);
            }
          }
        }
      }
      if (f.xrf || f.fluorescence) {
        let I = abs2(Q[0]);
        for (let k = 1; k < K; k++) I = tf.add(I, abs2(Q[k]));
        const Bi = ramp ? B : 1;
        const cwin = tf.reshape(tf.gather(c.mapsT!, idx), [B, nn, E]);
        const X = tf.mul(tf.reshape(tf.matMul(tf.reshape(I, [Bi, 1, nn]), cwin), [B, E]), L.sens!);
        if (f.fluorescence) out.X = X;
        if (f.xrf) {
          const { loss, grad } = xrfLoss(L.xrfModel, X, tf.gather(L.measuredT!, posT), DEFAULT_EPS);
          out.lossX = loss;
          const rs = tf.mul(grad, L.sens!); // s_e r_ej [B, E]
          const upd = tf.matMul(tf.reshape(I, [Bi, nn, 1]), tf.reshape(rs, [B, 1, E])); // [B, N^2, E]
          out.gMapsT = tf.scatterND(idx2, tf.reshape(upd, [B * nn, E]), [L.HW, E]);
          if (f.probeGradient) {
            const w = tf.reshape(tf.matMul(cwin, tf.reshape(rs, [B, E, 1])), [B, n, n]);
            const gQ = Q.map((q) => cscale(q, w));
            if (ramp) out.gXf = gQ.map((s) => csum(cmulConj(ramp, fft.forward(s)), 0));
            else out.gXs = gQ.map((s) => csum(s, 0));
          }
        }
      }
      return out as unknown as tf.TensorContainer;
    }) as unknown as BatchOut;
  }

  /** Batches of a positions list: integer and sub-pixel positions apart, each in runs of at most plan.batch. */
  private batches(list: Int32Array, split: boolean): { pos: Int32Array; sub: boolean }[] {
    const L = this.loaded();
    const size = L.plan.batch;
    const out: { pos: Int32Array; sub: boolean }[] = [];
    if (!split) {
      for (let a = 0; a < list.length; a += size) {
        const pos = list.subarray(a, Math.min(list.length, a + size));
        out.push({ pos, sub: pos.some((j) => L.subpixel[j] === 1) });
      }
      return out;
    }
    for (const sub of [false, true]) {
      const sel = list.filter((j) => (L.subpixel[j] === 1) === sub);
      for (let a = 0; a < sel.length; a += size) out.push({ pos: sel.subarray(a, Math.min(sel.length, a + size)), sub });
    }
    return out;
  }

  // ---- Engine ------------------------------------------------------------------------------------------

  evaluate(state: EngineState, request: EvalRequest): Promise<EvalResult> {
    return this.run("evaluate", () => this.doEvaluate(state, request));
  }

  private positionsOf(req: EvalRequest): Int32Array {
    const L = this.loaded();
    if (!req.positions) return Int32Array.from({ length: L.npos }, (_, j) => j);
    const list = req.positions;
    if (list.length > L.npos) fail(`${list.length} batch positions exceed the scan's ${L.npos}`);
    for (let i = 0; i < list.length; i++) {
      const j = list[i];
      if (!(Number.isInteger(j) && j >= 0 && j < L.npos)) fail(`batch position ${j} (entry ${i}) outside the scan's ${L.npos} positions`);
    }
    return Int32Array.from(list);
  }

  private async doEvaluate(state: EngineState, req: EvalRequest): Promise<EvalResult> {
    const L = this.loaded();
    const model = req.ptychoModel ?? L.model;
    if (!PTYCHO_MODELS.includes(model)) fail(`unknown ptychography noise model "${model as string}" (gaussian, poisson, weighted)`);
    const ptycho = !!req.ptycho, xrf = !!req.xrf, pg = !!req.probeGradient, pos = !!req.positionGradient && ptycho;
    const list = this.positionsOf(req);
    const runs = this.batches(list, true);
    const anySub = runs.some((r) => r.sub);
    let inputs: CallInputs | null = null;
    let acc: BatchOut = {};
    const lossesP: tf.Tensor[] = [], lossesX: tf.Tensor[] = [];
    const posParts: { t: tf.Tensor; pos: Int32Array }[] = [];
    const flags: BatchFlags = { ptycho, xrf, probeGradient: pg, positionGradient: pos, intensities: false, fluorescence: false };
    const downloads: tf.Tensor[] = [];
    try {
      inputs = this.uploadInputs(state, { object: ptycho, maps: xrf, fp: (anySub && (ptycho || xrf)) || pos }, model);
      for (const r of runs) {
        if (!ptycho && !xrf) break;
        const b = this.batch(inputs, r.pos, r.sub, flags);
        if (b.lossP) lossesP.push(b.lossP);
        if (b.lossX) lossesX.push(b.lossX);
        if (b.gPos) posParts.push({ t: b.gPos, pos: r.pos });
        acc = {
          gObjRe: accumulate(acc.gObjRe, b.gObjRe), gObjIm: accumulate(acc.gObjIm, b.gObjIm),
          gMapsT: accumulate(acc.gMapsT, b.gMapsT),
          gPs: accumulateModes(acc.gPs, b.gPs), gPf: accumulateModes(acc.gPf, b.gPf),
          gXs: accumulateModes(acc.gXs, b.gXs), gXf: accumulateModes(acc.gXf, b.gXf),
        };
      }
      // assemble what goes back to the host: interleaved complex, [E, HW] maps, two loss scalars
      const fft = L.fft;
      const probeOut = (space: Cx[] | undefined, freq: Cx[] | undefined): tf.Tensor | null => {
        if (!space && !freq) return tf.zeros([2 * L.K * L.n * L.n]);
        return tf.tidy(() => {
          const modes: tf.Tensor[] = [];
          for (let k = 0; k < L.K; k++) {
            let g: Cx | null = space ? space[k] : null;
            if (freq) {
              const t = fft.inverse(freq[k]);
              g = g ? cadd(g, t) : t;
            }
            modes.push(tf.stack([g!.re, g!.im], 2));
          }
          return tf.reshape(tf.stack(modes), [-1]);
        });
      };
      const losses = tf.tidy(() => tf.stack([
        lossesP.length ? tf.addN(lossesP) : tf.scalar(0), lossesX.length ? tf.addN(lossesX) : tf.scalar(0),
      ]));
      downloads.push(losses);
      const gObj = ptycho && acc.gObjRe ? tf.tidy(() => tf.reshape(tf.stack([acc.gObjRe!, acc.gObjIm!], 1), [-1])) : null;
      if (gObj) downloads.push(gObj);
      const gPP = ptycho && pg ? probeOut(acc.gPs, acc.gPf) : null;
      if (gPP) downloads.push(gPP);
      const gPX = xrf && pg ? probeOut(acc.gXs, acc.gXf) : null;
      if (gPX) downloads.push(gPX);
      const gMaps = xrf && acc.gMapsT ? tf.tidy(() => tf.reshape(tf.transpose(acc.gMapsT!), [-1])) : null;
      if (gMaps) downloads.push(gMaps);
      const posT = posParts.length ? tf.concat(posParts.map((p) => p.t)) : null;
      if (posT) downloads.push(posT);
      const [lossData, ...rest] = await Promise.all(downloads.map((t) => t.data() as Promise<Float32Array>));
      const o = L.out;
      let i = 0;
      if (gObj) o.gObject.set(rest[i++]);
      else o.gObject.fill(0);
      if (gPP) o.gProbePtycho.set(rest[i++]);
      if (gPX) o.gProbeXrf.set(rest[i++]);
      if (gMaps) o.gMaps.set(rest[i++]);
      else if (xrf) o.gMaps.fill(0);
      if (pos) {
        o.gPositions.fill(0);
        if (posT) {
          const g = rest[i++];
          let r = 0;
          for (const part of posParts) {
            for (const j of part.pos) {
              o.gPositions[2 * j] = g[2 * r];
              o.gPositions[2 * j + 1] = g[2 * r + 1];
              r++;
            }
          }
        }
      }
      return {
        lossPtycho: ptycho ? lossData[0] : 0,
        lossXrf: xrf ? lossData[1] : 0,
        gObject: o.gObject,
        gProbePtycho: ptycho && pg ? o.gProbePtycho : null,
        gMaps: xrf ? o.gMaps : null,
        gProbeXrf: xrf && pg ? o.gProbeXrf : null,
        gPositions: pos ? o.gPositions : null,
      };
    } finally {
      TfjsEngine.disposeInputs(inputs);
      disposeBatch(acc);
      for (const t of [...lossesP, ...lossesX, ...posParts.map((p) => p.t), ...downloads]) t.dispose();
    }
  }

  intensities(state: EngineState, start: number, count: number): Promise<Float32Array> {
    return this.run("intensities", async () => {
      const L = this.loaded();
      if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 0 && start + count <= L.npos)) {
        fail(`positions [${start}, ${start + count}) outside the scan's ${L.npos} positions`);
      }
      const list = Int32Array.from({ length: count }, (_, i) => start + i);
      const runs = this.batches(list, false);
      const flags: BatchFlags = { ptycho: false, xrf: false, probeGradient: false, positionGradient: false, intensities: true, fluorescence: false };
      let inputs: CallInputs | null = null;
      const parts: tf.Tensor[] = [];
      let all: tf.Tensor | null = null;
      try {
        inputs = this.uploadInputs(state, { object: true, maps: false, fp: runs.some((r) => r.sub) }, L.model);
        for (const r of runs) parts.push(this.batch(inputs, r.pos, r.sub, flags).D!);
        if (!parts.length) return new Float32Array(0);
        all = tf.concat(parts);
        return Float32Array.from((await all.data()) as Float32Array);
      } finally {
        TfjsEngine.disposeInputs(inputs);
        for (const t of parts) t.dispose();
        all?.dispose();
      }
    });
  }

  fluorescence(state: EngineState): Promise<Float32Array> {
    return this.run("fluorescence", async () => {
      const L = this.loaded();
      const list = Int32Array.from({ length: L.npos }, (_, j) => j);
      const runs = this.batches(list, false);
      const flags: BatchFlags = { ptycho: false, xrf: false, probeGradient: false, positionGradient: false, intensities: false, fluorescence: true };
      let inputs: CallInputs | null = null;
      const parts: tf.Tensor[] = [];
      let all: tf.Tensor | null = null;
      try {
        inputs = this.uploadInputs(state, { object: false, maps: true, fp: runs.some((r) => r.sub) }, L.model);
        for (const r of runs) parts.push(this.batch(inputs, r.pos, r.sub, flags).X!);
        all = tf.tidy(() => tf.transpose(tf.concat(parts))); // [E, npos]
        return Float32Array.from((await all.data()) as Float32Array);
      } finally {
        TfjsEngine.disposeInputs(inputs);
        for (const t of parts) t.dispose();
        all?.dispose();
      }
    });
  }

  /** Frees the loaded problem's tensors. */
  private release(): void {
    const L = this.L;
    if (!L) return;
    this.L = null;
    L.fft.dispose();
    for (const t of [L.stack, L.sens, L.measuredT, L.kappa, L.base]) t?.dispose();
  }

  dispose(): Promise<void> {
    const done = this.queue.then(async () => {
      if (this.disposed) return;
      this.disposed = true;
      this.release();
    });
    this.queue = done.catch(() => undefined);
    return done;
  }
}
