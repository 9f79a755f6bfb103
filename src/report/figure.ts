/**
 * A map as a stand-alone PNG figure (docs/reports.md "PNG previews"), drawn without a browser:
 *
 *   Title (quantity and element)
 *   +-----------------------------+   +--+ - 150      |
 *   |                             |   |  | - 100      |  colour bar label with the unit,
 *   |  the map, upscaled with     |   |  | - 50       |  along the bar
 *   |  nearest-neighbour pixels   |   |  | - 0        |
 *   | [1 µm ====] (scale bar)     |   +--+            |
 *   +-----------------------------+
 *
 * The map is scaled by an integer factor so that its longer side is at least 512 pixels (FIGURE_MAP_SIZE); each
 * colour bar spans the map's height, its top the high end of its range, with round tick values (ticks.ts)
 * inside the range; the scale bar is the longest 1-2-5 length within a quarter of the map's width
 * (html/scaleBar.ts, the same as the report's). Text uses the bitmap font of font.ts at twice its size.
 */
import { Canvas } from "./canvas.js";
import type { Rgb } from "./colormap.js";
import { lineHeight, textWidth } from "./font.js";
import { scaleBar, type ScaleBar } from "./html/scaleBar.js";
import type { Range } from "./png.js";
import { hatchAt } from "./png.js";
import { niceTicks, type Ticks } from "./ticks.js";

/** The longer side of a figure's map reaches at least this many pixels (when an integer factor <= 32 allows). */
export const FIGURE_MAP_SIZE = 512;
const MAX_SCALE = 32;
/** Text is drawn at this multiple of the font's pixel size. */
export const FIGURE_TEXT_SCALE = 2;
const MARGIN = 16;
const BAR_W = 20;
const TICK_LEN = 5;
const INK: Rgb = [29, 35, 48];
const FRAME: Rgb = [64, 64, 64];
const TICK: Rgb = [70, 70, 70];
const NOTE: Rgb = [91, 100, 117];

export interface FigureBar {
  /** Colour at t in [0, 1] (0 = bottom = range[0]). */
  colour: (t: number) => Rgb;
  range: Range;
  /** Written along the bar: quantity and unit, e.g. "Fe areal density (µg/cm²)". */
  label: string;
}

export interface FigureSpec {
  /** The map's size in pixels. */
  width: number;
  height: number;
  /** Colour of map pixel i (row-major); null where there is no data (drawn as a light hatching). */
  pixel: (i: number) => Rgb | null;
  title: string;
  /** Grey text after the title (how the values are shown, when it needs saying). */
  note?: string;
  bars: FigureBar[];
  /** Object pixel size in metres: draws a scale bar. */
  pixelSize_m?: number;
  /** Integer upscaling factor, or "auto" (default): longer side >= FIGURE_MAP_SIZE. */
  scale?: number | "auto";
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface RenderedFigure {
  png: Buffer;
  width: number;
  height: number;
  scale: number;
  /** Where the map is in the figure. */
  map: Box;
  /** Each colour bar: its strip, its tick values and labels, and the box of its rotated label. */
  bars: Array<{ strip: Box; ticks: Ticks; label: Box; labelScale: number }>;
  /** The scale bar drawn (in object pixels and metres) and its box in the figure; null without a pixel size. */
  scaleBar: (ScaleBar & { box: Box }) | null;
}

/** The upscaling factor of a figure's map. */
export function figureScale(width: number, height: number, scale: number | "auto" = "auto"): number {
  if (scale === "auto") return Math.max(1, Math.min(MAX_SCALE, Math.ceil(FIGURE_MAP_SIZE / Math.max(1, width, height))));
  if (!(Number.isInteger(scale) && scale >= 1 && scale <= 64)) throw new Error(`figure: scale must be an integer in 1..64, got ${scale}`);
  return scale;
}

/** Lays out and draws the figure (see the module comment). */
export function renderFigure(f: FigureSpec): RenderedFigure {
  if (!(Number.isInteger(f.width) && Number.isInteger(f.height) && f.width >= 1 && f.height >= 1)) {
    throw new Error(`figure: map size must be positive integers, got ${f.width} x ${f.height}`);
  }
  const s = figureScale(f.width, f.height, f.scale ?? "auto");
  const ts = FIGURE_TEXT_SCALE, lh = lineHeight(ts), cap = 7 * ts;
  const iw = f.width * s, ih = f.height * s;
  const map: Box = { x: MARGIN + 1, y: MARGIN + lh + 12, width: iw, height: ih };

  // colour bars: strip, ticks, tick labels, rotated label
  const maxTicks = Math.max(2, Math.min(8, Math.floor(ih / 45)));
  let x = map.x + iw + 1 + 20;
  const bars = f.bars.map((b) => {
    const ticks = niceTicks(b.range[0], b.range[1], maxTicks);
    const labelsW = Math.max(0, ...ticks.labels.map((l) => textWidth(l, ts)));
    const strip: Box = { x, y: map.y, width: BAR_W, height: ih };
    const labelScale = textWidth(b.label, ts) <= ih ? ts : 1;
    const lx = x + BAR_W + 1 + TICK_LEN + 4 + labelsW + 10;
    const lw = textWidth(b.label, labelScale);
    const label: Box = { x: lx, y: map.y + Math.max(0, Math.round((ih - lw) / 2)), width: lineHeight(labelScale), height: lw };
    x = lx + label.width + 24;
    return { bar: b, strip, ticks, label, labelScale };
  });
  const titleW = textWidth(f.title, ts) + 1 + (f.note ? 16 + textWidth(f.note, ts) : 0);
  const W = Math.max(x - 24 + MARGIN, map.x + iw + 1 + MARGIN, MARGIN + titleW + MARGIN);
  const H = map.y + ih + 1 + Math.max(MARGIN, cap);
  const c = new Canvas(W, H);

  c.text(f.title, MARGIN, MARGIN, INK, { scale: ts, bold: true });
  if (f.note) c.text(f.note, MARGIN + textWidth(f.title, ts) + 1 + 16, MARGIN, NOTE, { scale: ts });

  // the map
  for (let y = 0; y < f.height; y++) {
    for (let xx = 0; xx < f.width; xx++) {
      const col = f.pixel(y * f.width + xx);
      for (let sy = 0; sy < s; sy++) {
        for (let sx = 0; sx < s; sx++) {
          const X = xx * s + sx, Y = y * s + sy;
          c.set(map.x + X, map.y + Y, col ?? hatchAt(X, Y));
        }
      }
    }
  }
  c.frame(map.x, map.y, iw, ih, FRAME);

  for (const { bar, strip, ticks, label, labelScale } of bars) {
    for (let r = 0; r < ih; r++) c.fill(strip.x, strip.y + r, BAR_W, 1, bar.colour(1 - (r + 0.5) / ih));
    c.frame(strip.x, strip.y, BAR_W, ih, FRAME);
    const [lo, hi] = bar.range;
    ticks.values.forEach((v, k) => {
      const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      const y = strip.y + Math.round((1 - t) * (ih - 2));
      c.fill(strip.x + BAR_W + 1, y, TICK_LEN, 2, TICK);
      c.text(ticks.labels[k], strip.x + BAR_W + 1 + TICK_LEN + 4, y + 1 - cap / 2, INK, { scale: ts });
    });
    c.text(bar.label, label.x, label.y, INK, { scale: labelScale, rotate: -90 });
  }

  let sb: RenderedFigure["scaleBar"] = null;
  const bar = f.pixelSize_m ? scaleBar(f.pixelSize_m, f.width) : null;
  if (bar) {
    // a white box in the map's bottom-left corner: the bar in black, its length above it (legible on any map)
    const len = Math.max(2, Math.round(bar.pixels * s));
    const thick = Math.max(4, Math.round(ih / 90));
    const tw = textWidth(bar.label, ts), pad = 6;
    const bw = Math.max(len, tw) + 2 * pad, bh = pad + lh + 3 + thick + pad;
    const bx = map.x + 8, by = map.y + ih - 8 - bh;
    c.fill(bx - 1, by - 1, bw + 2, bh + 2, [120, 120, 120]);
    c.fill(bx, by, bw, bh, [255, 255, 255]);
    const box: Box = { x: bx + Math.round((bw - len) / 2), y: by + pad + lh + 3, width: len, height: thick };
    c.fill(box.x, box.y, box.width, box.height, [0, 0, 0]);
    c.text(bar.label, bx + Math.round((bw - tw) / 2), by + pad + 1, INK, { scale: ts });
    sb = { ...bar, box };
  }

  return {
    png: c.toPng(), width: W, height: H, scale: s, map,
    bars: bars.map(({ strip, ticks, label, labelScale }) => ({ strip, ticks, label, labelScale })),
    scaleBar: sb,
  };
}
