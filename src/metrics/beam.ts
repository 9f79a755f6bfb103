/**
 * The beam's size on the object grid, for the correlation analysis (docs/reports.md "Correlation analysis"):
 * nothing smaller than the beam is resolved by the element maps.
 *
 * The beam diameter is the one the simulator uses (src/sim/probe.ts beamDiameter_px): the diameter of the
 * smallest disc about the intensity centroid holding 86.5 % of the probe's intensity (summed over its modes),
 * the 1/e^2 diameter of a Gaussian beam. Its area is pi D^2 / 4 object pixels (probe and object share the pixel
 * size).
 */
import { probeIntensity } from "../physics/xrf.js";
import type { ProbeModes } from "../scan/model.js";
import { beamDiameter_px } from "../sim/probe.js";

/** The 86.5 % intensity diameter, in pixels, of an n x n probe (one or more complex modes, interleaved re/im). */
export function probeBeamDiameter_px(probe: ProbeModes | Float32Array | Float64Array, n: number): number {
  const data = ArrayBuffer.isView(probe) ? probe : probe.data;
  if (data.length === 0 || data.length % (2 * n * n) !== 0) {
    throw new Error(`probeBeamDiameter_px: a probe of ${data.length} floats is not K x ${n} x ${n} complex`);
  }
  const intensity = new Float64Array(n * n);
  probeIntensity(data, n, 0, 0, intensity);
  return beamDiameter_px(intensity, n);
}

/** The beam's area pi D^2 / 4 in object pixels, D the 86.5 % intensity diameter. */
export function beamAreaPixels(probe: ProbeModes | Float32Array | Float64Array, n: number): number {
  const d = probeBeamDiameter_px(probe, n);
  return (Math.PI * d * d) / 4;
}
