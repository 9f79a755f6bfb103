/**
 * A map as an HTML figure: the PNG (a data: URI, shown at a fixed CSS size with crisp pixels), a scale bar over
 * its bottom-left corner, an SVG colour bar with tick labels to its right, and optionally an SVG drawn over the
 * image in object-pixel coordinates (region outlines and labels).
 */
import type { Rgb } from "../colormap.js";
import { colourBarSvg } from "./colourBar.js";
import { esc } from "./escape.js";
import { pngDataUri } from "./page.js";
import { PALETTE } from "./svgPlot.js";
import { scaleBar, scaleBarHtml } from "./scaleBar.js";

export const MAP_DISPLAY_SIZE = 300;

export interface MapColourBar {
  range: [number, number];
  colour: (t: number) => Rgb;
  /** Quantity and unit, e.g. "phase (rad)". */
  label?: string;
}

export interface MapFigureInput {
  title: string;
  /** Grey text after the title (e.g. the colour map). */
  note?: string;
  /** The map's PNG without a colour bar strip. */
  png: Uint8Array;
  /** Object grid in pixels. */
  width: number;
  height: number;
  /** Object pixel size in metres: draws a scale bar. */
  pixelSize_m?: number;
  colourBar?: MapColourBar;
  /** Several colour bars side by side (an overlay's phase and element scales); drawn after `colourBar`. */
  colourBars?: MapColourBar[];
  /** SVG content in object-pixel coordinates (viewBox 0 0 width height) drawn over the image. */
  overlaySvg?: string;
  /** Longer side on screen in CSS pixels (default 300). */
  displaySize?: number;
  alt?: string;
}

/** Display size keeping the aspect ratio, the longer side `size`. */
export function displaySize(width: number, height: number, size = MAP_DISPLAY_SIZE): { w: number; h: number } {
  return width >= height ? { w: size, h: Math.max(1, Math.round((size * height) / width)) } : { w: Math.max(1, Math.round((size * width) / height)), h: size };
}

export function mapFigure(f: MapFigureInput): string {
  const { w, h } = displaySize(f.width, f.height, f.displaySize);
  const bar = f.pixelSize_m ? scaleBar(f.pixelSize_m, f.width) : null;
  const overlay = f.overlaySvg
    ? `<svg class="outline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" preserveAspectRatio="none" aria-hidden="true">${f.overlaySvg}</svg>`
    : "";
  const cb = [...(f.colourBar ? [f.colourBar] : []), ...(f.colourBars ?? [])].map((b) => colourBarSvg({ height: h, ...b })).join("");
  return `<figure class="map"><figcaption>${esc(f.title)}${f.note ? ` <span>${esc(f.note)}</span>` : ""}</figcaption>` +
    `<div class="map-row"><div class="map-img" style="width:${w + 2}px"><img src="${pngDataUri(f.png)}" width="${w}" height="${h}" alt="${esc(f.alt ?? f.title)}">` +
    `${overlay}${bar ? scaleBarHtml(bar) : ""}</div>${cb}</div></figure>`;
}

/**
 * Outlines of labelled regions (labels >= 1; 0 and negative are not outlined) as SVG paths in object-pixel
 * coordinates, one colour per region (PALETTE by region index), each region's number at its centroid.
 */
export function regionOutlineSvg(labels: Int32Array, width: number, height: number, centroids?: Map<number, [number, number]>): string {
  const ids = [...new Set(labels)].filter((l) => l >= 1).sort((a, b) => a - b);
  const at = (y: number, x: number) => (y < 0 || x < 0 || y >= height || x >= width ? -2 : labels[y * width + x]);
  const parts: string[] = [];
  const font = Math.max(4, Math.round(Math.max(width, height) / 20));
  ids.forEach((id, k) => {
    const colour = PALETTE[k % PALETTE.length];
    let d = "";
    // horizontal edges on the line y (between rows y-1 and y), merged along x
    for (let y = 0; y <= height; y++) {
      let run = -1;
      for (let x = 0; x <= width; x++) {
        const edge = x < width && (at(y - 1, x) === id) !== (at(y, x) === id);
        if (edge && run < 0) run = x;
        if (!edge && run >= 0) { d += `M${run} ${y}H${x}`; run = -1; }
      }
    }
    // vertical edges on the line x, merged along y
    for (let x = 0; x <= width; x++) {
      let run = -1;
      for (let y = 0; y <= height; y++) {
        const edge = y < height && (at(y, x - 1) === id) !== (at(y, x) === id);
        if (edge && run < 0) run = y;
        if (!edge && run >= 0) { d += `M${x} ${run}V${y}`; run = -1; }
      }
    }
    // a dark halo under the coloured line keeps it visible on light and dark pixels alike
    parts.push(`<path d="${d}" fill="none" stroke="#000" stroke-opacity="0.7" stroke-width="4" vector-effect="non-scaling-stroke"/>`);
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2" vector-effect="non-scaling-stroke"/>`);
    const c = centroids?.get(id);
    if (c && Number.isFinite(c[0]) && Number.isFinite(c[1])) {
      parts.push(`<text x="${(c[1] + 0.5).toFixed(1)}" y="${(c[0] + 0.5).toFixed(1)}" font-size="${font}" text-anchor="middle" dominant-baseline="central" fill="#fff" stroke="#000" stroke-width="${(font / 5).toFixed(1)}" paint-order="stroke" font-weight="700">${id}</text>`);
    }
  });
  return parts.join("");
}
