/**
 * Worker thread of the cpu engine: one CpuKernel over the SharedArrayBuffers handed over in workerData.
 * Protocol (one small message each way per call; see cpuEngine.ts):
 *   -> { t: "eval", first, count, ptycho, xrf, probeGradient, positionGradient, version }   <- { lossPtycho, lossXrf }
 *   -> { t: "int", start, count, version, out, outOffset }                <- {}
 *   -> { t: "fluo", first, count, version }                               <- {}
 *   -> { t: "win", iy, ix, fy, fx, cache, cacheVersion }                   <- {}   (moved positions)
 * Any failure answers { error } (the message and stack).
 */
import { parentPort, workerData } from "node:worker_threads";
import { CpuKernel, type KernelBuffers, type KernelConfig } from "./kernel.js";

export type WorkerRequest =
  | {
    t: "eval"; first: number; count: number; ptycho: boolean; xrf: boolean; probeGradient: boolean;
    positionGradient: boolean; version: number;
  }
  | { t: "int"; start: number; count: number; version: number; out: Float32Array; outOffset: number }
  | { t: "fluo"; first: number; count: number; version: number }
  | {
    t: "win"; iy: Int32Array; ix: Int32Array; fy: Float64Array; fx: Float64Array; cache: Float32Array;
    cacheVersion: Int32Array;
  };

export interface WorkerReply {
  lossPtycho?: number;
  lossXrf?: number;
  /** Time spent in the kernel (diagnostics). */
  ms?: number;
  error?: string;
}

export interface WorkerInit {
  cfg: KernelConfig;
  buf: KernelBuffers;
}

const port = parentPort;
if (!port) throw new Error("cpu engine worker: must run in a worker thread");
const init = workerData as WorkerInit;
const kernel = new CpuKernel(init.cfg, init.buf);

port.on("message", (m: WorkerRequest) => {
  try {
    switch (m.t) {
      case "eval":
        const t0 = performance.now();
        kernel.evaluate(m.first, m.count, m, m.version);
        port.postMessage({ lossPtycho: kernel.lossPtycho, lossXrf: kernel.lossXrf, ms: performance.now() - t0 } satisfies WorkerReply);
        return;
      case "int":
        kernel.intensities(m.start, m.count, m.version, m.out, m.outOffset);
        break;
      case "fluo":
        kernel.fluorescence(m.first, m.count, m.version);
        break;
      case "win":
        kernel.setWindows(m.iy, m.ix, m.fy, m.fx, m.cache, m.cacheVersion);
        break;
      default:
        throw new Error(`unknown request ${(m as { t: string }).t}`);
    }
    port.postMessage({} satisfies WorkerReply);
  } catch (e) {
    port.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies WorkerReply);
  }
});
port.postMessage({} satisfies WorkerReply);
