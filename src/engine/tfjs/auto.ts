/**
 * Engine "auto": the tfjs engine on @tensorflow/tfjs-node-gpu when that package loads, libtensorflow sees a
 * GPU and float32 matmuls on it are full precision (backend.ts); otherwise the cpu engine. The choice and,
 * for a fallback, its reason go to the log (stderr by default) and into Engine.device, which metrics.json and
 * result.h5 record: e.g. "cpu: 2 threads (auto: no GPU: @tensorflow/tfjs-node-gpu is not installed)".
 */
import { CpuEngine, type CpuEngineOptions } from "../cpu/cpuEngine.js";
import type { Engine, EngineProblem, EngineState, EvalRequest, EvalResult } from "../engine.js";
import type { ScanWindows } from "../../physics/geometry.js";
import { loadRuntime, type TfjsRuntime } from "./backend.js";
import { TfjsEngine, type TfjsEngineOptions } from "./tfjsEngine.js";

export interface AutoEngineOptions extends TfjsEngineOptions, CpuEngineOptions {
  /** Where the choice is reported (default: one line on stderr). */
  log?: (line: string) => void;
  /** The GPU runtime loader (tests inject one); default loadRuntime("tensorflow", { requireGpu: true }). */
  loadGpu?: () => Promise<TfjsRuntime>;
}

/** A chosen engine whose device names why it was chosen. */
class Chosen implements Engine {
  readonly name: string;
  readonly device: string;
  constructor(readonly inner: Engine, note: string) {
    this.name = inner.name;
    this.device = `${inner.device} (auto: ${note})`;
  }
  load(problem: EngineProblem): Promise<void> { return this.inner.load(problem); }
  setWindows(windows: ScanWindows): Promise<void> { return this.inner.setWindows(windows); }
  evaluate(state: EngineState, request: EvalRequest): Promise<EvalResult> { return this.inner.evaluate(state, request); }
  intensities(state: EngineState, start: number, count: number): Promise<Float32Array> { return this.inner.intensities(state, start, count); }
  fluorescence(state: EngineState): Promise<Float32Array> { return this.inner.fluorescence(state); }
  dispose(): Promise<void> { return this.inner.dispose(); }
}

/** A short reason from a loader error (backend.ts words a missing package as "... is not installed"). */
export function fallbackReason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return `no GPU: ${text.slice(0, 200)}`;
}

export async function autoEngine(options: AutoEngineOptions = {}): Promise<Engine> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { log: _log, loadGpu, ...engineOptions } = options;
  let runtime: TfjsRuntime | null = null;
  let reason = "";
  try {
    runtime = await (loadGpu ?? (() => loadRuntime("tensorflow", { requireGpu: true })))();
    if (!runtime.gpu) {
      reason = `no GPU: ${runtime.package} runs on the CPU`;
      runtime = null;
    }
  } catch (e) {
    reason = fallbackReason(e);
  }
  if (runtime) {
    const engine = new TfjsEngine(runtime, { ...engineOptions, backend: "tensorflow" });
    log(`engine auto: tfjs on ${engine.device}`);
    return engine;
  }
  const engine = new Chosen(new CpuEngine(engineOptions), reason);
  log(`engine auto: cpu (${engine.inner.device}); ${reason}`);
  return engine;
}
