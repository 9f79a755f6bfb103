/**
 * Measurement noise, applied alike to diffraction frames and XRF maps:
 *
 *   none:     the noiseless model values;
 *   poisson:  counts ~ Poisson(value). The dose is set upstream: the probe is normalised to `dose` photons per
 *             exposure, so a diffraction pattern holds about dose x (sample transmission) counts;
 *   gaussian: value * (1 + level * z), z ~ N(0, 1), i.e. sigma = level x value per sample ("3 % noise" is
 *             level 0.03, relative to each value, not to the maximum), clipped at 0 so counts stay >= 0.
 *
 * Diffraction is stored as uint32 counts under Poisson noise and as float32 otherwise.
 */
import type { DiffractionDtype } from "../scan/model.js";
import type { Rng } from "./rng.js";

export type NoiseKind = "none" | "poisson" | "gaussian";

export interface NoiseSpec {
  kind: NoiseKind;
  /** Relative standard deviation for gaussian noise (0.03 = 3 %); ignored otherwise. */
  level: number;
}

export function diffractionDtype(kind: NoiseKind): DiffractionDtype {
  return kind === "poisson" ? "uint32" : "float32";
}

/** out[i] = noisy(values[i]); out may alias values when both are Float32Array. */
export function addNoise(values: ArrayLike<number>, noise: NoiseSpec, rng: Rng, out: Float32Array | Uint32Array): void {
  if (out.length < values.length) throw new Error(`addNoise: output of ${out.length} for ${values.length} values`);
  switch (noise.kind) {
    case "none":
      for (let i = 0; i < values.length; i++) out[i] = values[i];
      return;
    case "poisson":
      for (let i = 0; i < values.length; i++) out[i] = rng.poisson(Math.max(values[i], 0));
      return;
    case "gaussian":
      if (!(noise.level >= 0)) throw new Error(`gaussian noise level must be >= 0, got ${noise.level}`);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        out[i] = v === 0 ? 0 : Math.max(0, v * (1 + noise.level * rng.normal()));
      }
      return;
    default:
      throw new Error(`unknown noise kind "${noise.kind as string}" (none, poisson, gaussian)`);
  }
}
