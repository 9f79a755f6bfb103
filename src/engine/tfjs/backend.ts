/**
 * Where the tfjs engine runs: loading a TensorFlow.js backend at run time.
 *
 * - "cpu": @tensorflow/tfjs-backend-cpu, pure JavaScript (a dependency of this package). Correct and slow: the
 *   stand-in the parity tests run on.
 * - "tensorflow": @tensorflow/tfjs-node-gpu (CUDA through libtensorflow) or, failing that, @tensorflow/tfjs-node
 *   (libtensorflow on the CPU). Neither is a dependency: both download libtensorflow when installed, which
 *   `npm install` on a machine without access to that host cannot do. The GPU container installs
 *   @tensorflow/tfjs-node-gpu at the version of @tensorflow/tfjs-core in package.json; here they are imported
 *   by a computed name inside try/catch, so a missing package is a fallback, never a build or import error.
 * - "auto": "tensorflow" when one of the two loads, else "cpu".
 *
 * Before libtensorflow loads, `prepareGpuEnvironment` sets defaults the GPU needs (each only when unset):
 *   NVIDIA_TF32_OVERRIDE=0         full float32 matmuls: TensorFlow >= 2.4 enables TF32 on Ampere and newer
 *                                  GPUs by default, whose 10-bit mantissas would break the float32 parity of the
 *                                  DFT-by-matmul and of the other contractions (checked at start, see below)
 *   TF_FORCE_GPU_ALLOW_GROWTH=true TensorFlow allocates GPU memory as needed instead of taking almost all of it
 *   TF_CPP_MIN_LOG_LEVEL=1         no INFO lines from libtensorflow
 *   CUDA_CACHE_MAXSIZE=4294967296  the driver's PTX JIT cache may hold every kernel libtensorflow needs (the
 *                                  default 256 MiB evicts them); CUDA_CACHE_PATH = $PTYXRF_CUDA_CACHE when set
 *                                  (point it at a persistent volume: docs/gpu.md "Cold start")
 *
 * `checkFloat32` multiplies two random matrices on the backend and compares with float64 on the host: a
 * relative error above 1e-5 (TF32 still active, or a broken device) makes loading fail with the reason, so
 * `auto` falls back to the cpu engine rather than computing with 1e-3 errors.
 */
import { spawnSync } from "node:child_process";
import * as tf from "@tensorflow/tfjs-core";

export type TfjsBackendChoice = "auto" | "cpu" | "tensorflow";

export interface TfjsRuntime {
  tf: typeof tf;
  /** The tfjs backend name: "cpu" or "tensorflow". */
  backend: string;
  /** The package that provides it. */
  package: string;
  /** True when the backend computes on a GPU. */
  gpu: boolean;
  /** What it runs on, for logs and metrics.json (Engine.device). */
  description: string;
  /** GPU memory in bytes (nvidia-smi), when known. */
  gpuMemoryBytes: number | null;
  /** Why faster backends were not used (empty when none was skipped). */
  notes: string[];
}

/** Sets the environment libtensorflow reads at start (only variables that are unset). */
export function prepareGpuEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  const defaults: Record<string, string> = {
    NVIDIA_TF32_OVERRIDE: "0",
    TF_FORCE_GPU_ALLOW_GROWTH: "true",
    TF_CPP_MIN_LOG_LEVEL: "1",
    CUDA_CACHE_MAXSIZE: "4294967296",
  };
  if (env.PTYXRF_CUDA_CACHE) defaults.CUDA_CACHE_PATH = env.PTYXRF_CUDA_CACHE;
  for (const [k, v] of Object.entries(defaults)) if (env[k] === undefined) env[k] = v;
}

/** Name and memory of the first GPU from nvidia-smi, or null (no driver tools, no GPU, or a timeout). */
export function queryGpu(): { name: string; memoryBytes: number } | null {
  try {
    const r = spawnSync("nvidia-smi", ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"], {
      encoding: "utf8", timeout: 10_000,
    });
    if (r.status !== 0 || !r.stdout) return null;
    const [name, mib] = r.stdout.split("\n")[0].split(",").map((s) => s.trim());
    const memoryBytes = Number(mib) * 2 ** 20;
    return name && memoryBytes > 0 ? { name, memoryBytes } : null;
  } catch {
    return null;
  }
}

/** The tensorflow backend object of tfjs-node(-gpu), as far as this engine reads it. */
interface NodeBackend {
  isGPUPackage?: boolean;
  isUsingGpuDevice?: boolean;
  binding?: { TF_Version?: string };
}

let cpuReady: Promise<void> | null = null;

async function loadCpu(): Promise<void> {
  cpuReady ??= (async () => {
    await import("@tensorflow/tfjs-backend-cpu");
    // the cpu backend's "install tfjs-node" banner is not useful here: the engine picks its backend itself
    tf.env().set("PROD", true);
  })();
  await cpuReady;
  if (tf.getBackend() !== "cpu" && !(await tf.setBackend("cpu"))) throw new Error("tfjs engine: the cpu backend failed to start");
}

/** Imports a package by a computed name (so TypeScript and bundlers do not require it to exist). */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

function errorText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0].slice(0, 300);
}

/**
 * Loads @tensorflow/tfjs-node-gpu, else @tensorflow/tfjs-node, and makes "tensorflow" the backend. Throws with
 * the reasons when neither loads. `requireGpu`: throw unless a GPU is in use.
 */
async function loadTensorflow(requireGpu: boolean): Promise<TfjsRuntime> {
  prepareGpuEnvironment();
  const reasons: string[] = [];
  const packages = requireGpu ? ["@tensorflow/tfjs-node-gpu"] : ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];
  for (const pkg of packages) {
    try {
      await importOptional(pkg);
    } catch (e) {
      const missing = /Cannot find (package|module) ['"]?@tensorflow\/tfjs-node/.test(errorText(e));
      reasons.push(missing ? `${pkg} is not installed` : `${pkg} did not load (${errorText(e)})`);
      continue;
    }
    if (!(await tf.setBackend("tensorflow"))) {
      reasons.push(`${pkg} loaded but its "tensorflow" backend did not start`);
      continue;
    }
    const b = tf.backend() as unknown as NodeBackend;
    const gpu = !!b.isUsingGpuDevice;
    if (requireGpu && !gpu) {
      reasons.push(`${pkg} loaded but libtensorflow sees no GPU`);
      continue;
    }
    const info = gpu ? queryGpu() : null;
    const tfVersion = b.binding?.TF_Version ? `TensorFlow ${b.binding.TF_Version}` : "libtensorflow";
    const description = gpu
      ? `gpu: ${info ? `${info.name}, ${(info.memoryBytes / 2 ** 30).toFixed(1)} GiB` : "CUDA device"} (${pkg.slice(12)}, ${tfVersion})`
      : `cpu: ${tfVersion} (${pkg.slice(12)})`;
    return { tf, backend: "tensorflow", package: pkg, gpu, description, gpuMemoryBytes: info?.memoryBytes ?? null, notes: reasons };
  }
  throw new Error(reasons.join("; "));
}

/** Float32 matmul check (see the header); throws when the backend's matmul is not full float32. */
export function checkFloat32(runtime: TfjsRuntime, n = 48): void {
  const a = new Float32Array(n * n), b = new Float32Array(n * n);
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (let i = 0; i < a.length; i++) {
    a[i] = rnd();
    b[i] = rnd();
  }
  const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])).dataSync());
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let ref = 0;
      for (let k = 0; k < n; k++) ref += a[i * n + k] * b[k * n + j];
      num += (got[i * n + j] - ref) ** 2;
      den += ref * ref;
    }
  }
  const err = Math.sqrt(num / den);
  if (!(err < 1e-5)) {
    throw new Error(
      `tfjs engine: float32 matmul on ${runtime.description} has relative error ${err.toExponential(1)} (expected < 1e-5; ` +
        `TF32 tensor cores still enabled? set NVIDIA_TF32_OVERRIDE=0 before the process starts)`,
    );
  }
}

/**
 * Loads the requested backend and makes it tfjs's current backend. "cpu" always succeeds; "tensorflow" throws
 * when neither tfjs-node package loads; "auto" falls back to "cpu" and records why in `notes`.
 */
export async function loadRuntime(choice: TfjsBackendChoice = "auto", options: { requireGpu?: boolean } = {}): Promise<TfjsRuntime> {
  if (choice !== "cpu" && choice !== "tensorflow" && choice !== "auto") {
    throw new Error(`tfjs engine: unknown backend "${String(choice)}" (auto, cpu, tensorflow)`);
  }
  let notes: string[] = [];
  if (choice !== "cpu") {
    try {
      const rt = await loadTensorflow(!!options.requireGpu);
      checkFloat32(rt);
      return rt;
    } catch (e) {
      if (choice === "tensorflow" || options.requireGpu) throw e instanceof Error ? e : new Error(String(e));
      notes = [errorText(e)];
    }
  }
  await loadCpu();
  return {
    tf, backend: "cpu", package: "@tensorflow/tfjs-backend-cpu", gpu: false,
    description: "tfjs-cpu: pure-JS CPU backend, 1 thread (a correctness stand-in: slow)", gpuMemoryBytes: null, notes,
  };
}

/** Makes the runtime's backend tfjs's current one again (another engine in the process may have switched). */
export async function activate(runtime: TfjsRuntime): Promise<void> {
  if (tf.getBackend() !== runtime.backend && !(await tf.setBackend(runtime.backend))) {
    throw new Error(`tfjs engine: the ${runtime.backend} backend failed to start`);
  }
}

/** "8GiB", "512 MiB", "1e9" -> bytes; null for an empty value; throws on garbage. */
export function parseBytes(text: string | undefined, what = "a memory size"): number | null {
  if (text === undefined || text.trim() === "") return null;
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*(|b|kb|kib|mb|mib|gb|gib|tb|tib)\s*$/i.exec(text);
  if (!m) throw new Error(`tfjs engine: ${what} must be bytes, optionally with a unit (e.g. 8GiB), got "${text}"`);
  const unit = m[2].toLowerCase();
  const scale: Record<string, number> = {
    "": 1, b: 1, kb: 1e3, kib: 2 ** 10, mb: 1e6, mib: 2 ** 20, gb: 1e9, gib: 2 ** 30, tb: 1e12, tib: 2 ** 40,
  };
  return Math.floor(Number(m[1]) * scale[unit]);
}
