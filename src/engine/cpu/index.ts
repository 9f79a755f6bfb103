/** The cpu engine: Float32 storage, split-plane FFT, worker threads over SharedArrayBuffers. */
export { CpuEngine, workerScriptUrl, type CpuEngineOptions } from "./cpuEngine.js";
export { SplitFFT2, bitReversal } from "./fft2d.js";
