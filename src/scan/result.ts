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
 *
 * Every dataset carries a `units` attribute (src/scan/units.ts, docs/units.md): phase rad, amplitude and object 1,
 * pixel_size m, probe sqrt(photons), element and free maps by the link (ug/cm^2, or 1 under the linear link), and
 * maps a `quantity` attribute in words.
 */
import { FORMAT_ATTR, FORMAT_VERSION } from "./layout.js";
import { AMPLITUDE, PHASE, PROBE, type Unit } from "./units.js";
import { createDataset, setAttrs, withNewFile, writeComplex, writeProbe } from "./write.js";

export interface ResultData {
  height: number;
  width: number;
  object: Float32Array;
  probe: { modes: number; n: number; data: Float32Array };
  pixelSize_m: number;
  maps: Record<string, Float32Array> | null;
  free: Float32Array | null;
  /** Units of the element maps and of the free map (units.ts elementMapUnit / freeMapUnit of the link). */
  mapUnit: Unit;
  freeUnit: Unit;
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
    setAttrs(createDataset(g, { name: "phase", data: phase, shape, dtype: "<f" }), { units: PHASE.units, quantity: PHASE.quantity });
    setAttrs(createDataset(g, { name: "amplitude", data: amplitude, shape, dtype: "<f" }), { units: AMPLITUDE.units, quantity: AMPLITUDE.quantity });
    setAttrs(writeComplex(g, "object", r.object, shape), { units: "1", quantity: "complex transmission (re, im)" });
    const px = createDataset(g, { name: "pixel_size", data: new Float64Array([r.pixelSize_m]), shape: [], dtype: "<d" });
    setAttrs(px, { units: "m" });
    setAttrs(writeProbe(g, "probe", r.probe), { units: PROBE.units, quantity: PROBE.quantity });
    if (r.maps) {
      const m = g.create_group("elemental_maps");
      for (const [el, data] of Object.entries(r.maps)) {
        setAttrs(createDataset(m, { name: el, data, shape, dtype: "<f" }), { units: r.mapUnit.units, quantity: `${el} ${r.mapUnit.quantity}` });
      }
    }
    if (r.free) {
      setAttrs(createDataset(g, { name: "free_map", data: r.free, shape, dtype: "<f" }), { units: r.freeUnit.units, quantity: r.freeUnit.quantity });
    }
  });
}
