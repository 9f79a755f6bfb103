/**
 * Scale bars for maps: the longest "round" physical length (1, 2 or 5 x 10^k metres) not exceeding a target
 * fraction of the image width, its width in object pixels and a label ("500 nm", "1 µm").
 */
import { esc } from "./escape.js";
import { fmtLength } from "./format.js";

export interface ScaleBar {
  /** Physical length in metres (a 1-2-5 round number). */
  length_m: number;
  /** Width in object pixels (length_m / pixelSize_m; not necessarily an integer). */
  pixels: number;
  /** pixels / image width, in (0, 1]. */
  fraction: number;
  label: string;
}

/** The largest 1, 2 or 5 x 10^k that is <= x (x > 0). */
export function roundDown125(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  const m = x / p;
  // guard against 10^k computed as 0.99999 x 10^k by floating point
  const mant = m >= 5 - 1e-9 ? 5 : m >= 2 - 1e-9 ? 2 : 1;
  return mant * p;
}

/**
 * Scale bar for an image `widthPx` object pixels wide with pixels of `pixelSize_m` metres, at most
 * `targetFraction` (default 0.25) of the width. Null when the pixel size or width is not positive and finite.
 */
export function scaleBar(pixelSize_m: number, widthPx: number, targetFraction = 0.25): ScaleBar | null {
  if (!(pixelSize_m > 0 && Number.isFinite(pixelSize_m) && widthPx > 0 && Number.isFinite(widthPx))) return null;
  if (!(targetFraction > 0 && targetFraction <= 1)) throw new Error(`scaleBar: targetFraction must be in (0, 1], got ${targetFraction}`);
  const length_m = roundDown125(pixelSize_m * widthPx * targetFraction);
  const pixels = length_m / pixelSize_m;
  return { length_m, pixels, fraction: pixels / widthPx, label: fmtLength(length_m) };
}

/** HTML of a scale bar laid over the bottom-left of its image (the image's wrapper is position: relative). */
export function scaleBarHtml(bar: ScaleBar): string {
  const pct = (100 * bar.fraction).toFixed(3);
  return `<div class="scalebar" style="width:${pct}%"><span>${esc(bar.label)}</span></div>`;
}
