/**
 * Errors of a reconstruction against a ground truth on the same object grid (DESIGN.md "Metrics"): object
 * relative error after removing a global complex factor, its cPCC, and each element map's relative error
 * after removing a real scale, all over the region the true probe illuminates (10 % of the peak).
 */
import { cpcc } from "../metrics/cpcc.js";
import { objectRelativeError, realRelativeError } from "../metrics/errors.js";
import { illuminatedRegion } from "../metrics/illumination.js";
import type { ScanWindows } from "../physics/geometry.js";
import type { Truth } from "../scan/model.js";
import type { ReconstructionState } from "./reconstruct.js";

export interface Errors {
  object_rel_error?: number;
  object_cpcc?: number;
  element_rel_error: Record<string, number>;
}

export type Evaluator = (state: ReconstructionState, elements: string[], mode: string) => Errors;

export function makeEvaluator(truth: Truth, windows: ScanWindows): Evaluator {
  if (truth.object.height !== windows.height || truth.object.width !== windows.width) {
    throw new Error(`truth object is ${truth.object.height} x ${truth.object.width}, reconstruction grid ${windows.height} x ${windows.width}`);
  }
  const { mask } = illuminatedRegion(truth.probe, windows);
  const HW = windows.height * windows.width;
  return (state, elements, mode) => {
    const out: Errors = { element_rel_error: {} };
    if (mode !== "xrf") {
      out.object_rel_error = objectRelativeError(state.object, truth.object.data, mask).error;
      out.object_cpcc = cpcc(state.object, truth.object.data, mask).abs;
    }
    if (state.maps) {
      elements.forEach((el, e) => {
        const t = truth.elementMaps[el];
        if (t) out.element_rel_error[el] = realRelativeError(state.maps!.subarray(e * HW, (e + 1) * HW), t, mask).error;
      });
    }
    return out;
  };
}

/** The same errors flattened into a history record's `errors` group. */
export function errorRecord(e: Errors): Record<string, number> {
  const r: Record<string, number> = {};
  if (e.object_rel_error !== undefined) r.object = e.object_rel_error;
  if (e.object_cpcc !== undefined) r.cpcc = e.object_cpcc;
  for (const [el, v] of Object.entries(e.element_rel_error)) r[el] = v;
  return r;
}
