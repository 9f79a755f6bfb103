/**
 * The cpu engine: the Engine interface (../engine.ts) on Float32 storage, a split-plane radix-8/4 FFT
 * without permutations (fft2d.ts), fused kernels (kernel.ts) and worker threads sharing memory.
 *
 * Threads. `threads` (default os.availableParallelism()) kernels run the positions of each call, split into
 * contiguous chunks of about equal cost. With threads > 1 each kernel lives in a worker thread; with threads: 1
 * the kernel runs in the calling thread (measured ~1-2 % faster than one worker: no reduction, no message
 * round trip; it blocks the event loop for the duration of a call), unless `inThread: false` asks for one
 * worker. Bench preset (256^2 object, N = 64, 400 positions, 2 elements, ptycho + XRF + probe gradient, this
 * 2-core machine): ~72 ms per evaluate at 1 thread, ~37 ms at 2 (integer positions); sub-pixel positions
 * ~63 ms at 2 threads, ~75 ms when the probe also changes every call (see bench/engine.ts).
 *
 * Memory. At load the engine allocates SharedArrayBuffers once: the state inputs (object, probe, maps, the
 * positions list of a call), one set of gradient accumulators per worker, the model fluorescence and the
 * shifted-probe cache. The diffraction stack is adopted without copying when its buffer is a
 * SharedArrayBuffer; a stack on a plain ArrayBuffer is copied ONCE into a SharedArrayBuffer at load (callers
 * holding large scans should pass a SharedArrayBuffer-backed Float32Array to avoid holding the data twice).
 * Each evaluate copies object / probe / maps into the shared inputs (only the parts the request needs),
 * posts one small message per worker, and sums the workers' accumulators into the result buffers, which
 * are owned by the engine and valid until the next call.
 *
 * Shifted probes. A position with a sub-pixel fraction (|fy| or |fx| >= 1e-6) uses T_f P (physics
 * subpixelShiftProbe); integer positions use P itself and cost no extra FFT. Shifted probes are cached per
 * position in a shared Float32 cache (default budget 64 MiB: the bench preset needs 13 MiB; positions beyond
 * the budget are shifted on the fly, and a probe that changes every iteration gains nothing from more)
 * and stay valid while the probe is unchanged: every call compares the state's probe with the engine's
 * copy of the previous one, and any difference (or a first call) bumps a probe version that invalidates
 * every cached slot. Callers may pass the same array mutated in place or a new array; both are detected.
 *
 * Position gradients (EvalRequest.positionGradient): dL_ptycho/d(corner) per position (kernel.ts header): for
 * a sub-pixel position from the spectrum of conj(S_j O) . g_psi that its probe gradient computes anyway (one
 * forward FFT per mode without the probe gradient), for an integer position in space against the probe's
 * derivative (computed once per probe version); nothing when not requested. Bench preset, 1 thread: +8 %
 * (integer positions), +4 % (sub-pixel, probe gradient on). setWindows() moves the positions: new integer
 * corners and fractions go to every kernel, the shifted-probe cache is invalidated (and grown within its
 * budget when more positions become sub-pixel), and the per-position costs used to balance the threads follow.
 *
 * Lifetime. dispose() terminates the workers; calls after dispose throw. Workers are unref()'d while idle
 * and ref()'d while a call is in flight, so a process that forgets dispose() can still exit once nothing
 * else is pending, and an awaited call always keeps the process alive until it settles.
 * Calls are serialised: a call made while another is running waits for it.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { validateProblem, validateWindows } from "../windows.js";
import { DEFAULT_EPS } from "../../physics/losses.js";
import type { ScanWindows } from "../../physics/geometry.js";
import type { Engine, EngineOptions, EngineProblem, EngineState, EvalRequest, EvalResult } from "../engine.js";
import { CpuKernel, SUBPIXEL_TOLERANCE, type KernelBuffers, type KernelConfig } from "./kernel.js";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./worker.js";

export interface CpuEngineOptions extends EngineOptions {
  /** With threads: 1, run the kernel in the calling thread (default true) or in one worker (false). */
  inThread?: boolean;
  /** Budget of the shifted-probe cache in bytes (default 64 MiB). */
  probeCacheBytes?: number;
}

const DEFAULT_CACHE_BYTES = 64 * 2 ** 20;

/**
 * Location of the compiled worker script. From dist/ (the normal case) it is the sibling worker.js. When this
 * module runs from TypeScript sources (vitest, tsx: the module URL ends in ".ts") workers cannot start from
 * the .ts file, so they start from the compiled <repo>/dist/src/engine/cpu/worker.js (repo = the nearest
 * folder above holding a package.json), and a missing build is a clear error.
 */
export function workerScriptUrl(moduleUrl: string = import.meta.url): URL {
  const here = fileURLToPath(moduleUrl);
  if (!here.endsWith(".ts")) return new URL("./worker.js", moduleUrl);
  // running from TypeScript sources (vitest, tsx): workers start from the compiled dist/ output
  let dir = path.dirname(here);
  while (!existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cpu engine: no package.json above ${here}; cannot locate the compiled worker`);
    dir = up;
  }
  const script = path.join(dir, "dist", "src", "engine", "cpu", "worker.js");
  if (!existsSync(script)) {
    throw new Error(
      `cpu engine: compiled worker ${script} not found. The engine is running from TypeScript sources and ` +
        `starts its worker threads from dist/: run npm run build`,
    );
  }
  return pathToFileURL(script);
}

/**
 * The parent's execArgv minus the options a worker rejects (--input-type, and -e / -p with their script):
 * workers inherit execArgv by default, which breaks engines created from `node --input-type=module -e ...`.
 */
function workerExecArgv(argv: string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--input-type=")) continue;
    if (a === "--input-type" || a === "-e" || a === "--eval" || a === "-p" || a === "--print") {
      i++;
      continue;
    }
    if (a.startsWith("--eval=") || a.startsWith("--print=")) continue;
    out.push(a);
  }
  return out;
}

type Pending = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };

class WorkerHandle {
  readonly worker: Worker;
  private pending: Pending | null = null;
  private failure: Error | null = null;
  readonly ready: Promise<WorkerReply>;

  constructor(url: URL, init: WorkerInit, index: number) {
    this.worker = new Worker(url, { workerData: init, name: `ptyxrf-cpu-${index}`, execArgv: workerExecArgv() });
    this.worker.on("message", (m: WorkerReply) => {
      const p = this.pending;
      this.pending = null;
      this.worker.unref();
      if (!p) return;
      if (m.error !== undefined) p.reject(new Error(`cpu engine worker ${index}: ${m.error}`));
      else p.resolve(m);
    });
    this.worker.on("error", (e: Error) => this.fail(new Error(`cpu engine worker ${index} crashed: ${e.message}`)));
    this.worker.on("exit", (code) => this.fail(new Error(`cpu engine worker ${index} exited (code ${code})`)));
    this.ready = this.expect();
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    const p = this.pending;
    this.pending = null;
    p?.reject(e);
  }

  private expect(): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    this.worker.ref();
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  call(msg: WorkerRequest): Promise<WorkerReply> {
    const reply = this.expect();
    if (!this.failure) this.worker.postMessage(msg);
    return reply;
  }

  async terminate(): Promise<void> {
    this.failure ??= new Error("cpu engine: disposed");
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}

interface Shared {
  cfg: KernelConfig;
  object: Float32Array;
  probe: Float32Array;
  maps: Float32Array;
  positions: Int32Array;
  xrfModelOut: Float64Array;
  cache: Float32Array;
  cacheVersion: Int32Array;
  slotOf: Int32Array;
  allPositions: Int32Array;
  subpixel: Uint8Array;
  /** Most cache slots the budget allows. */
  maxSlots: number;
}

function sharedF32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * Math.max(length, 0)));
}

function fail(msg: string): never {
  throw new Error(`cpu engine: ${msg}`);
}

/** Sub-pixel flags of the positions (fractions at or above SUBPIXEL_TOLERANCE). */
function subpixelFlags(fy: Float64Array, fx: Float64Array, out: Uint8Array): void {
  for (let j = 0; j < out.length; j++) {
    out[j] = Math.abs(fy[j]) >= SUBPIXEL_TOLERANCE || Math.abs(fx[j]) >= SUBPIXEL_TOLERANCE ? 1 : 0;
  }
}

/** Cache slots: one per sub-pixel position, in order, up to `limit`; -1 elsewhere. Returns the slots used. */
function assignSlots(subpixel: Uint8Array, slotOf: Int32Array, limit: number): number {
  slotOf.fill(-1);
  let slots = 0;
  for (let j = 0; j < subpixel.length && slots < limit; j++) if (subpixel[j]) slotOf[j] = slots++;
  return slots;
}

export class CpuEngine implements Engine {
  readonly name = "cpu";
  readonly device: string;
  readonly threads: number;
  private readonly inThread: boolean;
  private readonly cacheBytes: number;
  private problem: EngineProblem | null = null;
  private shared: Shared | null = null;
  private workers: WorkerHandle[] = [];
  private workerBufs: KernelBuffers[] = [];
  private local: CpuKernel | null = null;
  private result: EvalResult | null = null;
  private probeVersion = 0;
  /** Milliseconds each busy kernel (worker, or the in-thread one) spent in the last evaluate (diagnostics). */
  lastKernelMs: number[] = [];
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly chunkFirst: Int32Array;
  private readonly chunkCount: Int32Array;

  constructor(options: CpuEngineOptions = {}) {
    const threads = options.threads ?? os.availableParallelism();
    if (!(Number.isInteger(threads) && threads >= 1)) {
      throw new Error(`cpu engine: threads must be an integer >= 1, got ${threads}`);
    }
    this.threads = threads;
    this.inThread = threads === 1 && (options.inThread ?? true);
    this.cacheBytes = options.probeCacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!(this.cacheBytes >= 0)) throw new Error(`cpu engine: probeCacheBytes must be >= 0, got ${this.cacheBytes}`);
    this.device = this.inThread ? "cpu: 1 thread (in-thread)" : `cpu: ${threads} thread${threads > 1 ? "s" : ""}`;
    this.chunkFirst = new Int32Array(threads);
    this.chunkCount = new Int32Array(threads);
  }

  /** Serialise calls; every public method goes through here. */
  private run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(() => {
      if (this.disposed) throw new Error(`cpu engine: ${what} after dispose(); create a new engine`);
      return fn();
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  load(problem: EngineProblem): Promise<void> {
    return this.run("load", () => this.doLoad(problem));
  }

  private async doLoad(problem: EngineProblem): Promise<void> {
    validateProblem(problem, fail);
    await this.stopWorkers();
    this.problem = null;
    this.shared = null;
    this.result = null;
    const w = problem.windows, n = w.n, nn = n * n, K = problem.modes, hw = w.height * w.width;
    const E = problem.xrf?.elements.length ?? 0;
    let diffraction = problem.diffraction;
    if (!(diffraction.buffer instanceof SharedArrayBuffer)) {
      diffraction = sharedF32(diffraction.length);
      diffraction.set(problem.diffraction);
    }
    const cfg: KernelConfig = {
      n, modes: K, height: w.height, width: w.width, npos: w.count,
      iy: Int32Array.from(w.iy.subarray(0, w.count)), ix: Int32Array.from(w.ix.subarray(0, w.count)),
      fy: Float64Array.from(w.fy.subarray(0, w.count)), fx: Float64Array.from(w.fx.subarray(0, w.count)),
      diffraction,
      ptychoModel: problem.ptychoModel,
      background: problem.background ?? 0,
      eps: DEFAULT_EPS,
      elements: E,
      sensitivity: Float64Array.from(problem.xrf?.sensitivity ?? []),
      xrfMeasured: Float32Array.from(problem.xrf?.measured ?? []),
      xrfModel: problem.xrf?.model ?? "lsq",
    };
    const subpixel = new Uint8Array(w.count);
    subpixelFlags(cfg.fy, cfg.fx, subpixel);
    const slotBytes = 4 * 2 * K * nn;
    const maxSlots = Math.floor(this.cacheBytes / slotBytes);
    const slotOf = new Int32Array(new SharedArrayBuffer(4 * w.count));
    const slots = assignSlots(subpixel, slotOf, maxSlots);
    const inThread = this.inThread;
    const f32 = (len: number) => (inThread ? new Float32Array(len) : sharedF32(len));
    const sh: Shared = {
      cfg,
      object: f32(2 * hw),
      probe: f32(2 * K * nn),
      maps: f32(E * hw),
      positions: inThread ? new Int32Array(w.count) : new Int32Array(new SharedArrayBuffer(4 * w.count)),
      xrfModelOut: inThread ? new Float64Array(E * w.count) : new Float64Array(new SharedArrayBuffer(8 * E * w.count)),
      cache: f32(slots * 2 * K * nn),
      cacheVersion: inThread ? new Int32Array(slots) : new Int32Array(new SharedArrayBuffer(4 * slots)),
      slotOf,
      allPositions: Int32Array.from({ length: w.count }, (_, j) => j),
      subpixel,
      maxSlots,
    };
    const result: EvalResult = {
      lossPtycho: 0, lossXrf: 0,
      gObject: new Float32Array(2 * hw),
      gProbePtycho: new Float32Array(2 * K * nn),
      gMaps: new Float32Array(E * hw),
      gProbeXrf: new Float32Array(2 * K * nn),
      gPositions: new Float32Array(2 * w.count),
    };
    this.probeVersion = 0;
    const common = {
      object: sh.object, probe: sh.probe, maps: sh.maps, positions: sh.positions, xrfModelOut: sh.xrfModelOut,
      cache: sh.cache, cacheVersion: sh.cacheVersion, slotOf: sh.slotOf,
    };
    if (inThread) {
      this.local = new CpuKernel(cfg, {
        ...common,
        gObject: result.gObject, gProbePtycho: result.gProbePtycho!, gMaps: result.gMaps!, gProbeXrf: result.gProbeXrf!,
        gPositions: new Float64Array(2 * w.count),
      });
    } else {
      await this.startWorkers(cfg, common, hw, E, K * nn);
    }
    this.shared = sh;
    this.result = result;
    this.problem = problem;
  }

  private async startWorkers(
    cfg: KernelConfig, common: Omit<KernelBuffers, "gObject" | "gProbePtycho" | "gMaps" | "gProbeXrf" | "gPositions">,
    hw: number, E: number, probeComplex: number,
  ): Promise<void> {
    const url = workerScriptUrl();
    this.workerBufs = [];
    for (let t = 0; t < this.threads; t++) {
      const buf: KernelBuffers = {
        ...common,
        gObject: sharedF32(2 * hw), gProbePtycho: sharedF32(2 * probeComplex), gMaps: sharedF32(E * hw),
        gProbeXrf: sharedF32(2 * probeComplex),
        gPositions: new Float64Array(new SharedArrayBuffer(8 * 2 * cfg.npos)),
      };
      this.workerBufs.push(buf);
      this.workers.push(new WorkerHandle(url, { cfg, buf }, t));
    }
    try {
      await Promise.all(this.workers.map((h) => h.ready));
    } catch (e) {
      await this.stopWorkers();
      throw e;
    }
  }

  private loaded(): { problem: EngineProblem; sh: Shared; result: EvalResult } {
    if (!this.problem || !this.shared || !this.result) throw new Error("cpu engine: load() a problem first");
    return { problem: this.problem, sh: this.shared, result: this.result };
  }

  /** Compare the state's probe with the previous one; copy it and bump the version when it changed. */
  private syncProbe(probe: Float32Array, sh: Shared): number {
    if (probe.length !== sh.probe.length) {
      throw new Error(`cpu engine: probe holds ${probe.length} floats, expected K x N x N complex = ${sh.probe.length}`);
    }
    const prev = sh.probe;
    let changed = this.probeVersion === 0;
    if (!changed) {
      for (let i = 0; i < probe.length; i++) {
        if (probe[i] !== prev[i]) {
          changed = true;
          break;
        }
      }
    }
    if (changed) {
      prev.set(probe);
      this.probeVersion++;
    }
    return this.probeVersion;
  }

  private syncObject(object: Float32Array, sh: Shared): void {
    if (object.length !== sh.object.length) {
      throw new Error(`cpu engine: object holds ${object.length} floats, expected H x W complex = ${sh.object.length}`);
    }
    sh.object.set(object);
  }

  private syncMaps(maps: Float32Array | undefined, sh: Shared): void {
    if (sh.cfg.elements === 0) throw new Error("cpu engine: the XRF term needs a problem with xrf data");
    if (!maps) throw new Error("cpu engine: the XRF term needs state.maps");
    if (maps.length !== sh.maps.length) {
      throw new Error(`cpu engine: maps hold ${maps.length} values, expected E x H x W = ${sh.maps.length}`);
    }
    sh.maps.set(maps);
  }

  /**
   * Split list[0..m) into `threads` contiguous chunks of about equal cost (sub-pixel positions cost subCost,
   * integer ones intCost).
   */
  private partition(list: Int32Array, m: number, sh: Shared, subCost: number, intCost = 1): void {
    const T = this.threads;
    let total = 0;
    for (let i = 0; i < m; i++) total += sh.subpixel[list[i]] ? subCost : intCost;
    let i = 0, acc = 0;
    for (let t = 0; t < T; t++) {
      const target = (total * (t + 1)) / T;
      const start = i;
      while (i < m && (t === T - 1 || acc + (sh.subpixel[list[i]] ? subCost : intCost) / 2 <= target)) {
        acc += sh.subpixel[list[i]] ? subCost : intCost;
        i++;
      }
      this.chunkFirst[t] = start;
      this.chunkCount[t] = i - start;
    }
  }

  private writePositions(req: EvalRequest, sh: Shared): number {
    const npos = sh.cfg.npos;
    if (!req.positions) {
      sh.positions.set(sh.allPositions);
      return npos;
    }
    const list = req.positions;
    if (list.length > npos) throw new Error(`cpu engine: ${list.length} batch positions exceed the scan's ${npos}`);
    for (let i = 0; i < list.length; i++) {
      const j = list[i];
      if (!(Number.isInteger(j) && j >= 0 && j < npos)) {
        throw new Error(`cpu engine: batch position ${j} (entry ${i}) outside the scan's ${npos} positions`);
      }
    }
    sh.positions.set(list);
    return list.length;
  }

  evaluate(state: EngineState, request: EvalRequest): Promise<EvalResult> {
    return this.run("evaluate", () => this.doEvaluate(state, request));
  }

  private async doEvaluate(state: EngineState, req: EvalRequest): Promise<EvalResult> {
    const { sh, result } = this.loaded();
    const pg = !!req.probeGradient;
    const before = this.probeVersion;
    const version = this.syncProbe(state.probe, sh);
    if (req.ptycho) this.syncObject(state.object, sh);
    if (req.xrf) this.syncMaps(state.maps, sh);
    const m = this.writePositions(req, sh);
    let lossPtycho = 0, lossXrf = 0;
    const pos = !!req.positionGradient && !!req.ptycho;
    if (req.ptychoModel && !["gaussian", "poisson", "weighted"].includes(req.ptychoModel)) {
      throw new Error(`cpu engine: unknown ptychography noise model "${req.ptychoModel as string}" (gaussian, poisson, weighted)`);
    }
    const flags = { ptycho: !!req.ptycho, xrf: !!req.xrf, probeGradient: pg, positionGradient: pos, ...(req.ptychoModel ? { ptychoModel: req.ptychoModel } : {}) };
    if (this.local) {
      const t0 = performance.now();
      this.local.evaluate(0, m, flags, version);
      this.lastKernelMs = [performance.now() - t0];
      lossPtycho = this.local.lossPtycho;
      lossXrf = this.local.lossXrf;
      if (!req.ptycho) result.gObject.fill(0);
      if (pos) result.gPositions!.set(this.local.buf.gPositions);
    } else {
      // relative cost of a sub-pixel position (measured on the bench preset): its probe-gradient FFTs and,
      // after a probe change, its shift; position gradients add a pass over the window (~8 %) and, for a
      // sub-pixel position without the probe gradient, one FFT per mode
      const subCost = 1 + (pg ? 0.35 * (Number(flags.ptycho) + Number(flags.xrf)) : 0) + (version !== before ? 0.3 : 0) +
        (pos ? (pg ? 0.08 : 0.35) : 0);
      this.partition(sh.positions, m, sh, subCost, pos ? 1.08 : 1);
      const busy: number[] = [];
      const calls: Promise<WorkerReply>[] = [];
      for (let t = 0; t < this.threads; t++) {
        if (this.chunkCount[t] === 0) continue;
        busy.push(t);
        calls.push(this.workers[t].call({ t: "eval", first: this.chunkFirst[t], count: this.chunkCount[t], ...flags, version }));
      }
      const replies = await Promise.all(calls);
      this.lastKernelMs = replies.map((r) => r.ms ?? 0);
      for (const r of replies) {
        lossPtycho += r.lossPtycho ?? 0;
        lossXrf += r.lossXrf ?? 0;
      }
      const bufs = busy.map((t) => this.workerBufs[t]);
      if (req.ptycho) reduce(result.gObject, bufs.map((b) => b.gObject));
      else result.gObject.fill(0);
      if (req.ptycho && pg) reduce(result.gProbePtycho!, bufs.map((b) => b.gProbePtycho));
      if (req.xrf) reduce(result.gMaps!, bufs.map((b) => b.gMaps));
      if (req.xrf && pg) reduce(result.gProbeXrf!, bufs.map((b) => b.gProbeXrf));
      if (pos) {
        const out = result.gPositions!;
        out.fill(0);
        for (const b of bufs) {
          const g = b.gPositions;
          for (let i = 0; i < out.length; i++) out[i] += g[i];
        }
      }
    }
    return {
      lossPtycho: req.ptycho ? lossPtycho : 0,
      lossXrf: req.xrf ? lossXrf : 0,
      gObject: result.gObject,
      gProbePtycho: req.ptycho && pg ? result.gProbePtycho : null,
      gMaps: req.xrf ? result.gMaps : null,
      gProbeXrf: req.xrf && pg ? result.gProbeXrf : null,
      gPositions: pos ? result.gPositions : null,
    };
  }

  setWindows(windows: ScanWindows): Promise<void> {
    return this.run("setWindows", () => this.doSetWindows(windows));
  }

  private async doSetWindows(windows: ScanWindows): Promise<void> {
    const { problem, sh } = this.loaded();
    const cfg = sh.cfg, npos = cfg.npos;
    if (windows.height !== cfg.height || windows.width !== cfg.width || windows.n !== cfg.n || windows.count !== npos) {
      fail(
        `setWindows needs the loaded ${npos} positions of ${cfg.n}x${cfg.n} windows on the ${cfg.height}x${cfg.width} ` +
          `object, got ${windows.count} of ${windows.n}x${windows.n} on ${windows.height}x${windows.width}`,
      );
    }
    validateWindows(windows, fail);
    const iy = Int32Array.from(windows.iy.subarray(0, npos)), ix = Int32Array.from(windows.ix.subarray(0, npos));
    const fy = Float64Array.from(windows.fy.subarray(0, npos)), fx = Float64Array.from(windows.fx.subarray(0, npos));
    // the engine's config (the in-thread kernel's too) and the balancing costs
    cfg.iy.set(iy);
    cfg.ix.set(ix);
    cfg.fy.set(fy);
    cfg.fx.set(fx);
    subpixelFlags(fy, fx, sh.subpixel);
    // shifted-probe cache: reassign slots, grow it within the budget if more positions need one, invalidate
    let needed = 0;
    for (let j = 0; j < npos; j++) needed += sh.subpixel[j];
    const slots = Math.min(needed, sh.maxSlots);
    if (slots > sh.cacheVersion.length) {
      const len = slots * 2 * cfg.modes * cfg.n * cfg.n;
      sh.cache = this.local ? new Float32Array(len) : sharedF32(len);
      sh.cacheVersion = this.local ? new Int32Array(slots) : new Int32Array(new SharedArrayBuffer(4 * slots));
    }
    assignSlots(sh.subpixel, sh.slotOf, sh.cacheVersion.length);
    sh.cacheVersion.fill(0);
    if (this.local) {
      this.local.setWindows(iy, ix, fy, fx, sh.cache, sh.cacheVersion);
    } else {
      await Promise.all(this.workers.map((h) => h.call({ t: "win", iy, ix, fy, fx, cache: sh.cache, cacheVersion: sh.cacheVersion })));
    }
    const corner = new Float64Array(2 * npos);
    corner.set((windows.corner ?? new Float64Array(0)).subarray(0, 2 * npos));
    this.problem = {
      ...problem,
      windows: { height: cfg.height, width: cfg.width, n: cfg.n, count: npos, corner, iy, ix, fy, fx },
    };
  }

  intensities(state: EngineState, start: number, count: number): Promise<Float32Array> {
    return this.run("intensities", async () => {
      const { sh } = this.loaded();
      const npos = sh.cfg.npos, nn = sh.cfg.n * sh.cfg.n;
      if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 0 && start + count <= npos)) {
        throw new Error(`cpu engine: positions [${start}, ${start + count}) outside the scan's ${npos} positions`);
      }
      const version = this.syncProbe(state.probe, sh);
      this.syncObject(state.object, sh);
      if (this.local) {
        const out = new Float32Array(count * nn);
        this.local.intensities(start, count, version, out, 0);
        return out;
      }
      const out = sharedF32(count * nn);
      const T = this.threads, calls: Promise<WorkerReply>[] = [];
      for (let t = 0; t < T; t++) {
        const a = Math.floor((count * t) / T), b = Math.floor((count * (t + 1)) / T);
        if (b > a) calls.push(this.workers[t].call({ t: "int", start: start + a, count: b - a, version, out, outOffset: a * nn }));
      }
      await Promise.all(calls);
      return out;
    });
  }

  fluorescence(state: EngineState): Promise<Float32Array> {
    return this.run("fluorescence", async () => {
      const { sh } = this.loaded();
      const version = this.syncProbe(state.probe, sh);
      this.syncMaps(state.maps, sh);
      const npos = sh.cfg.npos;
      sh.positions.set(sh.allPositions);
      if (this.local) {
        this.local.fluorescence(0, npos, version);
      } else {
        this.partition(sh.positions, npos, sh, 1);
        const calls: Promise<WorkerReply>[] = [];
        for (let t = 0; t < this.threads; t++) {
          if (this.chunkCount[t] > 0) calls.push(this.workers[t].call({ t: "fluo", first: this.chunkFirst[t], count: this.chunkCount[t], version }));
        }
        await Promise.all(calls);
      }
      return Float32Array.from(sh.xrfModelOut);
    });
  }

  private async stopWorkers(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    this.workerBufs = [];
    this.local = null;
    await Promise.all(ws.map((w) => w.terminate()));
  }

  dispose(): Promise<void> {
    const done = this.queue.then(async () => {
      if (this.disposed) return;
      this.disposed = true;
      await this.stopWorkers();
      this.problem = null;
      this.shared = null;
      this.result = null;
    });
    this.queue = done.catch(() => undefined);
    return done;
  }
}

/** out = sum of parts (at least one part). */
function reduce(out: Float32Array, parts: Float32Array[]): void {
  if (parts.length === 0) {
    out.fill(0);
    return;
  }
  out.set(parts[0]);
  for (let w = 1; w < parts.length; w++) {
    const p = parts[w];
    for (let i = 0; i < out.length; i++) out[i] += p[i];
  }
}
