/**
 * Cropping maps to the illuminated region (docs/reports.md "PNG previews"): the previews and the report show
 * the bounding box of the illuminated mask only; result.h5 keeps the whole object grid.
 */
import type { MaskLike } from "../metrics/mask.js";

/** A rectangle of object pixels: columns x .. x + width - 1, rows y .. y + height - 1. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The smallest rectangle holding every set pixel of a width x height mask; null when none is set. */
export function maskBounds(mask: MaskLike, width: number, height: number): Rect | null {
  if (mask.length !== width * height) throw new Error(`maskBounds: mask has ${mask.length} values for a ${width} x ${height} image`);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** The pixels of `rect` of a row-major map `width` pixels wide, as a new row-major Float32Array. */
export function cropMap(data: ArrayLike<number>, width: number, rect: Rect): Float32Array {
  const out = new Float32Array(rect.width * rect.height);
  for (let y = 0; y < rect.height; y++) {
    const row = (rect.y + y) * width + rect.x;
    for (let x = 0; x < rect.width; x++) out[y * rect.width + x] = data[row + x];
  }
  return out;
}

/** The mask's pixels inside `rect`, as 0 / 1. */
export function cropMask(mask: MaskLike, width: number, rect: Rect): Uint8Array {
  const out = new Uint8Array(rect.width * rect.height);
  for (let y = 0; y < rect.height; y++) {
    const row = (rect.y + y) * width + rect.x;
    for (let x = 0; x < rect.width; x++) out[y * rect.width + x] = mask[row + x] ? 1 : 0;
  }
  return out;
}

/** A label image's pixels inside `rect`. */
export function cropLabels(labels: Int32Array, width: number, rect: Rect): Int32Array {
  const out = new Int32Array(rect.width * rect.height);
  for (let y = 0; y < rect.height; y++) {
    const row = (rect.y + y) * width + rect.x;
    out.set(labels.subarray(row, row + rect.width), y * rect.width);
  }
  return out;
}
