/**
 * Pixel masks shared by the metrics: one entry per pixel of an H x W map, row-major; a pixel is inside when its
 * entry is truthy (non-zero number or `true`). `undefined` means "every pixel".
 */

export type MaskLike = ArrayLike<number> | ArrayLike<boolean>;

/** Throws unless `mask` (when given) has exactly `pixels` entries. */
export function checkMask(mask: MaskLike | undefined, pixels: number, what: string): void {
  if (mask !== undefined && mask.length !== pixels) {
    throw new Error(`${what}: mask has ${mask.length} entries, expected ${pixels} (one per pixel)`);
  }
}

/** Number of pixels inside the mask (all pixels when it is absent). */
export function maskCount(mask: MaskLike | undefined, pixels: number): number {
  if (mask === undefined) return pixels;
  let c = 0;
  for (let i = 0; i < pixels; i++) if (mask[i]) c++;
  return c;
}
