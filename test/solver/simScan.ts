/** A simulated scan held in memory as the solver loads it (no file round trip), with its truth. */
import { simulate } from "../../src/sim/simulate.js";
import type { SimOptions } from "../../src/sim/presets.js";
import type { LoadedScan } from "../../src/solver/problem.js";
import type { Truth } from "../../src/scan/model.js";

export function simScan(options: SimOptions): { scan: LoadedScan; truth: Truth } {
  const sim = simulate(options);
  const { npos, frameSize: n } = sim.header;
  const diffraction = new Float32Array(new SharedArrayBuffer(4 * npos * n * n));
  diffraction.set(sim.frames.frames(0, npos));
  return { scan: { header: sim.header, diffraction, source: `sim:${options.preset ?? "small"}` }, truth: sim.truth };
}
