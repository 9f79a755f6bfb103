/** Geometry facts the scan layer needs without depending on src/physics (DESIGN.md "Geometry"). */
export const HC_KEV_M = 12.398419843320026e-10;

/** Object pixel size dx = lambda z / (N p_det), metres. */
export function pixelSizeFromGeometry(energy_keV: number, distance_m: number, frameSize: number, detectorPixel_m: number): number {
  return ((HC_KEV_M / energy_keV) * distance_m) / (frameSize * detectorPixel_m);
}
