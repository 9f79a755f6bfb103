/**
 * Engine registry: `createEngine(name, options)` builds a compute engine by name. Engines join by adding an
 * entry to ENGINES (a factory that may import its implementation lazily, so optional engines such as tfjs
 * load their dependencies only when asked for).
 */
import type { CpuEngineOptions } from "./cpu/cpuEngine.js";
import type { Engine, EngineOptions } from "./engine.js";
import type { TfjsEngineOptions } from "./tfjs/tfjsEngine.js";

export type * from "./engine.js";

/** Options of every engine; each engine reads its own and ignores the rest. */
export type AnyEngineOptions = EngineOptions & CpuEngineOptions & TfjsEngineOptions;

type Factory = (options: AnyEngineOptions) => Promise<Engine>;

const ENGINES: Record<string, Factory> = {
  cpu: async (options) => {
    const { CpuEngine } = await import("./cpu/cpuEngine.js");
    return new CpuEngine(options);
  },
  /** src/physics operators, float64 scratch, one thread: the parity yardstick (ignores options). */
  reference: async () => {
    const { ReferenceEngine } = await import("./reference.js");
    return new ReferenceEngine();
  },
  /** TensorFlow.js ops: tfjs-node-gpu / tfjs-node when installed (loaded at run time), else tfjs's CPU backend. */
  tfjs: async (options) => {
    const { TfjsEngine } = await import("./tfjs/tfjsEngine.js");
    return TfjsEngine.create(options);
  },
  /** tfjs on a GPU when tfjs-node-gpu loads and sees one, else cpu; logs the choice (tfjs/auto.ts). */
  auto: async (options) => {
    const { autoEngine } = await import("./tfjs/auto.js");
    return autoEngine(options);
  },
};

export type EngineName = "auto" | "cpu" | "tfjs" | "reference";

/** True when `name` is a registered engine (for names from the command line or a job spec). */
export function isEngineName(name: string): name is EngineName {
  return Object.prototype.hasOwnProperty.call(ENGINES, name);
}

/** Names accepted by createEngine. */
export function engineNames(): string[] {
  return Object.keys(ENGINES);
}

/** A new, unloaded engine of the given name; unknown names throw an Error listing the valid ones. */
export async function createEngine(name: EngineName, options: AnyEngineOptions = {}): Promise<Engine> {
  const factory = isEngineName(name) ? ENGINES[name] : undefined;
  if (!factory) throw new Error(`unknown engine "${String(name)}" (valid: ${engineNames().join(", ")})`);
  return factory(options);
}
