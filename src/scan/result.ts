/**
 * result.h5 of a reconstruction (DESIGN.md "Results"):
 *
 *   /reconstructed/phase, /amplitude        [H, W] float32 (angle and modulus of the object)
 *   /reconstructed/object                   [H, W, 2] float32 (re, im)
 *   /reconstructed/pixel_size               scalar float64, metres
 *   /reconstructed/probe                    [K, N, N, 2] float32
 *   /reconstructed/elemental_maps/<El>      [H, W] float32 (joint and xrf modes)
 *   /reconstructed/free_map                 [H, W] float32 (joint mode: y of the linear link, matrix m of the exponential)
 *   root attributes: ptyxrf_format, mode, engine, device, iterations, scan, link (JSON), config (JSON)
 */
import { FORMAT_ATTR, FORMAT_VERSION } from "./layout.js";
import { createDataset, setAttrs, withNewFile, writeComplex, writeProbe } from "./write.js";

export interface ResultData {
  height: number;
  width: number;
  object: Float32Array;
  probe: { modes: number; n: number; data: Float32Array };
  pixelSize_m: number;
  maps: Record<string, Float32Array> | null;
  free: Float32Array | null;
  attributes: { mode: string; engine: string; device: string; iterations: number; scan: string; link: string; config: string };
}

export function phaseAndAmplitude(object: Float32Array): { phase: Float32Array; amplitude: Float32Array } {
  const n = object.length / 2;
  const phase = new Float32Array(n), amplitude = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    phase[p] = Math.atan2(object[2 * p + 1], object[2 * p]);
    amplitude[p] = Math.hypot(object[2 * p], object[2 * p + 1]);
  }
  return { phase, amplitude };
}

export async function writeResult(path: string, r: ResultData): Promise<void> {
  const { phase, amplitude } = phaseAndAmplitude(r.object);
  const shape = [r.height, r.width];
  await withNewFile(path, (f) => {
    setAttrs(f, { [FORMAT_ATTR]: FORMAT_VERSION, ...r.attributes });
    const g = f.create_group("reconstructed");
    createDataset(g, { name: "phase", data: phase, shape, dtype: "<f" });
    createDataset(g, { name: "amplitude", data: amplitude, shape, dtype: "<f" });
    writeComplex(g, "object", r.object, shape);
    const px = createDataset(g, { name: "pixel_size", data: new Float64Array([r.pixelSize_m]), shape: [], dtype: "<d" });
    setAttrs(px, { units: "m" });
    writeProbe(g, "probe", r.probe);
    if (r.maps) {
      const m = g.create_group("elemental_maps");
      for (const [el, data] of Object.entries(r.maps)) createDataset(m, { name: el, data, shape, dtype: "<f" });
    }
    if (r.free) createDataset(g, { name: "free_map", data: r.free, shape, dtype: "<f" });
  });
}
