/** Checks every engine makes of the scan windows it is given (load and setWindows). */
import { isPowerOfTwo } from "../physics/fft.js";
import type { ScanWindows } from "../physics/geometry.js";

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
