/** Checks every engine makes of the problem and scan windows it is given (load and setWindows). */
import { isPowerOfTwo } from "../physics/fft.js";
import type { ScanWindows } from "../physics/geometry.js";
import type { EngineProblem } from "./engine.js";

/** Throws through `fail` (which prefixes the engine's name) on the first window an engine cannot use. */
export function validateWindows(w: ScanWindows, fail: (msg: string) => never): void {
  if (!w || !isPowerOfTwo(w.n)) fail(`window size N must be a power of two >= 2, got ${w?.n}`);
  if (!(Number.isInteger(w.count) && w.count >= 1)) fail(`the scan needs at least one position, got ${w.count}`);
  for (const [name, a] of [["iy", w.iy], ["ix", w.ix], ["fy", w.fy], ["fx", w.fx]] as const) {
    if (!a || a.length < w.count) fail(`windows.${name} holds ${a?.length} values for ${w.count} positions`);
  }
  for (let j = 0; j < w.count; j++) {
    if (!(w.iy[j] >= 0 && w.iy[j] + w.n <= w.height && w.ix[j] >= 0 && w.ix[j] + w.n <= w.width)) {
      fail(`window ${j} at corner (${w.iy[j]}, ${w.ix[j]}) does not fit the ${w.height}x${w.width} object with N=${w.n}`);
    }
    if (!(Math.abs(w.fy[j]) <= 1 && Math.abs(w.fx[j]) <= 1)) fail(`window ${j} has sub-pixel shift (${w.fy[j]}, ${w.fx[j]}) outside [-1, 1]`);
  }
}

/** Throws through `fail` on the first part of a problem an engine cannot load. */
export function validateProblem(p: EngineProblem, fail: (msg: string) => never): void {
  const w = p.windows;
  validateWindows(w, fail);
  if (!(Number.isInteger(p.modes) && p.modes >= 1)) fail(`probe modes must be an integer >= 1, got ${p.modes}`);
  if (!(p.diffraction instanceof Float32Array)) fail("the diffraction stack must be a Float32Array");
  if (p.diffraction.length !== w.count * w.n * w.n) {
    fail(`the diffraction stack holds ${p.diffraction.length} values, expected ${w.count} x ${w.n} x ${w.n}`);
  }
  if (!["gaussian", "poisson", "weighted"].includes(p.ptychoModel)) {
    fail(`unknown ptychography noise model "${p.ptychoModel as string}" (gaussian, poisson, weighted)`);
  }
  if (p.background !== undefined && !Number.isFinite(p.background)) fail(`background must be finite, got ${p.background}`);
  const x = p.xrf;
  if (x) {
    const e = x.elements.length;
    if (e < 1) fail("the XRF problem names no elements");
    if (x.sensitivity.length !== e) fail(`XRF: ${x.sensitivity.length} sensitivities for ${e} elements`);
    if (x.measured.length !== e * w.count) fail(`XRF: measured holds ${x.measured.length} values, expected ${e} x ${w.count}`);
    if (x.model !== "lsq" && x.model !== "poisson") fail(`unknown XRF noise model "${x.model as string}" (lsq, poisson)`);
  }
}
