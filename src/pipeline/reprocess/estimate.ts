/**
 * How long reprocessing will take, before anything is submitted.
 *
 * Basis: the solver's cost grows with the detector pixels it transforms per iteration (frames x N x N,
 * FFT and elementwise work), and a scan's bytes are almost all diffraction frames. So
 *
 *   detector pixels  ~ scan bytes / 4                   (uncompressed 32-bit counts: the simulator and most
 *                                                        beamlines; 16-bit or compressed scans are
 *                                                        under-estimated up to 2x or by the compression ratio)
 *   hours            = sum over scans of iterations x pixels / BENCH_PIXELS x (ms per bench iteration) / 3.6e6
 *
 * where the bench preset (`npm run bench`) is 400 frames of 64 x 64 = 1,638,400 detector pixels per
 * iteration. The only measured figure is the cpu engine's 39 ms per bench iteration (2-core build
 * machine). No GPU figure has been measured: pass `--throughput MS`, the ms per iteration `npm run bench`
 * (or a worker's metrics.json ms_per_iter on a bench-sized scan) reports on the GPU instance.
 */
export const BENCH_FRAMES = 400;
export const BENCH_FRAME_SIZE = 64;
export const BENCH_PIXELS = BENCH_FRAMES * BENCH_FRAME_SIZE * BENCH_FRAME_SIZE;
/** `npm run bench`, cpu engine, all cores of the 2-core build machine. */
export const MEASURED_CPU_MS_PER_BENCH_ITERATION = 39;
export const BYTES_PER_COUNT = 4;

export interface Estimate {
  scans: number;
  bytes: number;
  iterations: number;
  msPerBenchIteration: number;
  /** Where msPerBenchIteration comes from. */
  basis: "measured-cpu" | "given";
  pixelIterations: number;
  hours: number;
  /** One paragraph for people. */
  text: string;
}

export function estimateHours(scans: { bytes: number }[], iterations: number, throughputMs?: number): Estimate {
  const ms = throughputMs ?? MEASURED_CPU_MS_PER_BENCH_ITERATION;
  const bytes = scans.reduce((s, x) => s + x.bytes, 0);
  const pixelIterations = (bytes / BYTES_PER_COUNT) * iterations;
  const hours = (pixelIterations / BENCH_PIXELS) * ms / 3.6e6;
  const basis = throughputMs === undefined ? "measured-cpu" : "given";
  const figure = basis === "measured-cpu"
    ? `${ms} ms per bench iteration: the cpu engine's figure from \`npm run bench\` (2-core machine); no GPU figure has been measured, so pass --throughput MS measured on the GPU instance`
    : `${ms} ms per bench iteration (--throughput)`;
  const text = `${hours < 0.1 ? hours.toFixed(4) : hours.toFixed(2)} GPU-hours for ${scans.length} scan${scans.length === 1 ? "" : "s"} (${(bytes / 1e6).toFixed(1)} MB) x ${iterations} iterations. `
    + `Basis: detector pixels ~ bytes / ${BYTES_PER_COUNT} (32-bit counts), time = iterations x pixels / ${BENCH_PIXELS.toLocaleString("en-US")} `
    + `(the bench preset: ${BENCH_FRAMES} frames of ${BENCH_FRAME_SIZE}x${BENCH_FRAME_SIZE}) x ${figure}.`;
  return { scans: scans.length, bytes, iterations, msPerBenchIteration: ms, basis, pixelIterations, hours, text };
}
