/**
 * PNG previews of real maps (DESIGN.md "Results"): a colour-mapped image, upscaled by an integer factor with
 * nearest-neighbour pixels so small maps stay visible, with a colour bar strip to its right (top = high end of
 * the range, bottom = low end; no tick labels: the range used is returned so callers can write it into
 * metrics.json / the report).
 *
 * Value -> colour: t = (v - lo) / (hi - lo), clamped to [0, 1], LUT entry min(255, floor(256 t)); so lo and
 * anything below it get entry 0, hi and anything above get entry 255. The "auto" range is robust: the 1st and
 * 99th percentiles (linear interpolation between order statistics) of the finite values inside the mask.
 * NaN and +-Infinity pixels are drawn in a neutral grey (`nanColour`). Pixels outside the mask are dimmed
 * (colour x 0.35, `outside: "dim"`, the default) or not drawn at all: a light diagonal hatching (`outside:
 * "hatch"`, what the previews and the report use) so that no unmeasured value shows. With `wrap`, values are
 * first reduced modulo (hi - lo) into [lo, hi): for phases shown on a cyclic map over [-pi, pi).
 *
 * Overlay: the phase in grey, the element map alpha-blended on top in one colour (default magenta) with
 * alpha = maxAlpha * t_element: the "element overlaid on the phase" preview. Its colour bar shows the
 * element's scale (mid grey -> element colour).
 *
 * Render functions return the encoded PNG (a Buffer, e.g. for S3) and never touch the file system; write
 * functions also write the file (synchronously) and return its path.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PNG } from "pngjs";
import { checkMask, type MaskLike } from "../metrics/mask.js";
import { resolveColormap, type ColormapName, type Lut, type Rgb } from "./colormap.js";

export type Range = [number, number];

/** Neutral grey for NaN / infinite pixels. */
export const NAN_COLOUR: Rgb = [128, 128, 128];
/** Background of the gap between image and colour bar. */
export const BACKGROUND: Rgb = [255, 255, 255];
const FRAME: Rgb = [64, 64, 64];
const DIM = 0.35;
/** The two tones of the hatching drawn where there is no data (outside the mask, `outside: "hatch"`). */
export const HATCH: [Rgb, Rgb] = [[222, 226, 232], [247, 248, 250]];
const HATCH_PERIOD = 6;
/** The hatching's colour at pixel (x, y) of the upscaled image: diagonal stripes. */
export function hatchAt(x: number, y: number): Rgb {
  return (x + y) % HATCH_PERIOD < HATCH_PERIOD / 2 ? HATCH[0] : HATCH[1];
}
/** Opacity of an overlay's element at the top of its range (default of OverlayPngOptions.maxAlpha). */
export const DEFAULT_OVERLAY_ALPHA = 0.85;
/** Auto upscaling aims at this many pixels along the shorter side. */
export const TARGET_SIZE = 256;
const MAX_AUTO_SCALE = 16;

export interface CommonPngOptions {
  /** Integer upscaling factor, or "auto" (default): the smallest factor giving >= 256 px on the shorter side (at most 16). */
  scale?: number | "auto";
  /** Draw the colour bar strip (default true). */
  colorbar?: boolean;
  /** Only these pixels set the auto range; the others are dimmed or hatched (`outside`). */
  mask?: MaskLike;
  /** How pixels outside the mask are drawn: "dim" (default) or "hatch" (not drawn: a light hatching). */
  outside?: "dim" | "hatch";
  nanColour?: Rgb;
}

export interface MapPngOptions extends CommonPngOptions {
  /** Default "viridis". */
  colormap?: ColormapName | Lut;
  /** [lo, hi] or "auto" (default): robust percentiles of the finite values inside the mask. */
  range?: Range | "auto";
  /** Percentiles of the auto range, default [1, 99]. */
  percentiles?: [number, number];
  /** Reduce values modulo (hi - lo) into [lo, hi) first (cyclic data on a cyclic map). */
  wrap?: boolean;
}

export interface RenderedPng {
  png: Buffer;
  /** Size of the PNG in pixels (image plus colour bar). */
  width: number;
  height: number;
  /** Upscaling factor used. */
  scale: number;
  /** Value range mapped onto the colour map ends. */
  range: Range;
}

export interface OverlayPngOptions extends CommonPngOptions {
  phaseRange?: Range | "auto";
  elementRange?: Range | "auto";
  /** Element colour, default magenta [255, 0, 255]. */
  colour?: Rgb;
  /** Opacity of the element where it reaches the top of its range, default 0.85. */
  maxAlpha?: number;
}

export interface RenderedOverlay extends Omit<RenderedPng, "range"> {
  phaseRange: Range;
  elementRange: Range;
}

/** p-th percentile (0..100) of the finite values inside the mask, numpy's default linear interpolation. */
function percentilesOf(data: ArrayLike<number>, ps: number[], mask?: MaskLike): number[] | null {
  const vals: number[] = [];
  for (let i = 0; i < data.length; i++) {
    if (mask && !mask[i]) continue;
    const v = data[i];
    if (Number.isFinite(v)) vals.push(v);
  }
  if (vals.length === 0) return null;
  const sorted = Float64Array.from(vals).sort();
  return ps.map((p) => {
    const x = (Math.max(0, Math.min(100, p)) / 100) * (sorted.length - 1);
    const i = Math.floor(x), f = x - i;
    return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
  });
}

/** Robust display range: the [1st, 99th] (or given) percentiles of the finite values inside the mask; [0, 1] if none. */
export function robustRange(data: ArrayLike<number>, mask?: MaskLike, percentiles: [number, number] = [1, 99]): Range {
  const p = percentilesOf(data, percentiles, mask);
  return p ? [p[0], p[1]] : [0, 1];
}

/** t in [0, 1] for v in [lo, hi] (clamped); a degenerate range gives 0, 0.5 or 1 by the side of lo. */
function normalise(v: number, lo: number, hi: number): number {
  if (!(hi > lo)) return v > lo ? 1 : v < lo ? 0 : 0.5;
  const t = (v - lo) / (hi - lo);
  return t <= 0 ? 0 : t >= 1 ? 1 : t;
}

const lutIndex = (t: number) => Math.min(255, Math.floor(256 * t));

function resolveScale(scale: number | "auto" | undefined, width: number, height: number): number {
  if (scale === undefined || scale === "auto") {
    return Math.max(1, Math.min(MAX_AUTO_SCALE, Math.ceil(TARGET_SIZE / Math.max(1, Math.min(width, height)))));
  }
  if (!(Number.isInteger(scale) && scale >= 1 && scale <= 64)) throw new Error(`png: scale must be an integer in 1..64, got ${scale}`);
  return scale;
}

function checkImage(data: ArrayLike<number>, width: number, height: number, what: string): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) {
    throw new Error(`${what}: image size must be positive integers, got ${width} x ${height}`);
  }
  if (data.length !== width * height) throw new Error(`${what}: ${data.length} values for a ${width} x ${height} image`);
}

function resolveRange(data: ArrayLike<number>, range: Range | "auto" | undefined, mask: MaskLike | undefined, ps?: [number, number]): Range {
  if (range === undefined || range === "auto") return robustRange(data, mask, ps);
  if (!(Number.isFinite(range[0]) && Number.isFinite(range[1]))) throw new Error(`png: range must be finite, got [${range}]`);
  return [range[0], range[1]];
}

/**
 * Lays out and encodes: `pixel(i)` gives the RGB of source pixel i (row-major, width x height), `bar(t)` the
 * colour of the colour bar at t in [0, 1] (bottom 0, top 1), or null for no bar.
 */
function encode(
  width: number, height: number, scale: number, pixel: (i: number) => Rgb | null, bar: ((t: number) => Rgb) | null,
): { png: Buffer; width: number; height: number } {
  const iw = width * scale, ih = height * scale;
  const barW = bar ? Math.max(12, Math.round(iw * 0.06)) : 0;
  const gap = bar ? Math.max(6, Math.round(barW / 2)) : 0;
  const W = iw + gap + barW, H = ih;
  const png = new PNG({ width: W, height: H });
  const out = png.data;
  const put = (x: number, y: number, c: Rgb) => {
    const o = 4 * (y * W + x);
    out[o] = c[0]; out[o + 1] = c[1]; out[o + 2] = c[2]; out[o + 3] = 255;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = pixel(y * width + x);
      for (let sy = 0; sy < scale; sy++) {
        for (let sx = 0; sx < scale; sx++) {
          const X = x * scale + sx, Y = y * scale + sy;
          put(X, Y, c ?? hatchAt(X, Y));
        }
      }
    }
  }
  if (bar) {
    for (let y = 0; y < H; y++) for (let x = iw; x < iw + gap; x++) put(x, y, BACKGROUND);
    const x0 = iw + gap;
    for (let y = 0; y < H; y++) {
      const t = H > 3 ? 1 - (y - 1) / (H - 3) : 0.5;
      const c = bar(Math.max(0, Math.min(1, t)));
      for (let x = x0; x < W; x++) {
        const edge = y === 0 || y === H - 1 || x === x0 || x === W - 1;
        put(x, y, edge ? FRAME : c);
      }
    }
  }
  return { png: PNG.sync.write(png), width: W, height: H };
}

/** Colour of LUT entry min(255, floor(256 t)) for t in [0, 1]: how maps and colour bars pick colours. */
export function lutRgb(lut: Lut, t: number): Rgb {
  const k = lutIndex(t);
  return [lut[3 * k], lut[3 * k + 1], lut[3 * k + 2]];
}

const dim = (c: Rgb): Rgb => [Math.round(c[0] * DIM), Math.round(c[1] * DIM), Math.round(c[2] * DIM)];

/** Colour-mapped PNG of a real width x height map (row-major), encoded in memory. */
export function renderMapPng(data: ArrayLike<number>, width: number, height: number, options: MapPngOptions = {}): RenderedPng {
  checkImage(data, width, height, "renderMapPng");
  checkMask(options.mask, width * height, "renderMapPng");
  const lut = resolveColormap(options.colormap ?? "viridis");
  const scale = resolveScale(options.scale, width, height);
  const [lo, hi] = resolveRange(data, options.range, options.mask, options.percentiles);
  const pixel = mapPixels(data, lut, [lo, hi], options);
  const out = encode(width, height, scale, pixel, options.colorbar === false ? null : (t) => lutRgb(lut, t));
  return { ...out, scale, range: [lo, hi] };
}

/**
 * The colour of each pixel of a map (index i, row-major) as renderMapPng draws it; null for a pixel outside the
 * mask with `outside: "hatch"` (the caller draws the hatching).
 */
export function mapPixels(
  data: ArrayLike<number>, lut: Lut, [lo, hi]: Range, o: Pick<MapPngOptions, "mask" | "wrap" | "nanColour" | "outside"> = {},
): (i: number) => Rgb | null {
  const nan = o.nanColour ?? NAN_COLOUR;
  const { mask, wrap } = o;
  const hatch = o.outside === "hatch";
  const period = hi - lo;
  return (i: number): Rgb | null => {
    const out = mask && !mask[i];
    if (out && hatch) return null;
    let v = data[i];
    if (!Number.isFinite(v)) return out ? dim(nan) : nan;
    if (wrap && period > 0) v = lo + (((v - lo) % period) + period) % period;
    const c = lutRgb(lut, normalise(v, lo, hi));
    return out ? dim(c) : c;
  };
}

/**
 * A map from its pixel colours (mapPixels, overlayPixels; null = hatching), upscaled by `scale` ("auto": >= 256
 * px on the shorter side), without a colour bar; `range` is returned as the range it was coloured with.
 */
export function encodeMap(pixel: (i: number) => Rgb | null, width: number, height: number, scale: number | "auto", range: Range): RenderedPng {
  const s = resolveScale(scale, width, height);
  return { ...encode(width, height, s, pixel, null), scale: s, range };
}

/** Element map (colour, alpha by its normalised value) over the phase (grey), encoded in memory. */
export function renderOverlayPng(
  phase: ArrayLike<number>, element: ArrayLike<number>, width: number, height: number, options: OverlayPngOptions = {},
): RenderedOverlay {
  checkImage(phase, width, height, "renderOverlayPng (phase)");
  checkImage(element, width, height, "renderOverlayPng (element)");
  checkMask(options.mask, width * height, "renderOverlayPng");
  const scale = resolveScale(options.scale, width, height);
  const [plo, phi] = resolveRange(phase, options.phaseRange, options.mask);
  const [elo, ehi] = resolveRange(element, options.elementRange, options.mask);
  const maxAlpha = options.maxAlpha ?? DEFAULT_OVERLAY_ALPHA;
  if (!(maxAlpha >= 0 && maxAlpha <= 1)) throw new Error(`renderOverlayPng: maxAlpha must be in [0, 1], got ${maxAlpha}`);
  const pixel = overlayPixels(phase, element, [plo, phi], [elo, ehi], options);
  const bar = overlayBarColour(options.colour, maxAlpha);
  const out = encode(width, height, scale, pixel, options.colorbar === false ? null : bar);
  return { ...out, scale, phaseRange: [plo, phi], elementRange: [elo, ehi] };
}

function blendWith(colour: Rgb): (base: Rgb, alpha: number) => Rgb {
  return (base, alpha) => [
    Math.round((1 - alpha) * base[0] + alpha * colour[0]),
    Math.round((1 - alpha) * base[1] + alpha * colour[1]),
    Math.round((1 - alpha) * base[2] + alpha * colour[2]),
  ];
}

/** The colour of an overlay's element scale at t in [0, 1]: mid grey blended towards the element's colour. */
export function overlayBarColour(colour: Rgb = [255, 0, 255], maxAlpha = DEFAULT_OVERLAY_ALPHA): (t: number) => Rgb {
  const blend = blendWith(colour);
  return (t) => blend([128, 128, 128], maxAlpha * t);
}

/** The colour of each pixel of an overlay as renderOverlayPng draws it; null outside the mask with `outside: "hatch"`. */
export function overlayPixels(
  phase: ArrayLike<number>, element: ArrayLike<number>, [plo, phi]: Range, [elo, ehi]: Range,
  o: Pick<OverlayPngOptions, "mask" | "colour" | "maxAlpha" | "nanColour" | "outside"> = {},
): (i: number) => Rgb | null {
  const blend = blendWith(o.colour ?? [255, 0, 255]);
  const maxAlpha = o.maxAlpha ?? DEFAULT_OVERLAY_ALPHA;
  const nan = o.nanColour ?? NAN_COLOUR;
  const { mask } = o;
  const hatch = o.outside === "hatch";
  return (i: number): Rgb | null => {
    const out = mask && !mask[i];
    if (out && hatch) return null;
    const p = phase[i], e = element[i];
    let base: Rgb;
    if (Number.isFinite(p)) {
      const g = lutIndex(normalise(p, plo, phi));
      base = [g, g, g];
    } else {
      base = nan;
    }
    // a constant element map (degenerate range) is transparent, not half-opaque
    const te = ehi > elo ? normalise(e, elo, ehi) : e > elo ? 1 : 0;
    const c = Number.isFinite(e) ? blend(base, maxAlpha * te) : base;
    return out ? dim(c) : c;
  };
}

function writeFile(path: string, png: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, png);
}

/** renderMapPng, written to `path` (parent folders created). */
export function writeMapPng(
  path: string, data: ArrayLike<number>, width: number, height: number, options: MapPngOptions = {},
): RenderedPng & { path: string } {
  const r = renderMapPng(data, width, height, options);
  writeFile(path, r.png);
  return { ...r, path };
}

/** renderOverlayPng, written to `path` (parent folders created). */
export function writeOverlayPng(
  path: string, phase: ArrayLike<number>, element: ArrayLike<number>, width: number, height: number, options: OverlayPngOptions = {},
): RenderedOverlay & { path: string } {
  const r = renderOverlayPng(phase, element, width, height, options);
  writeFile(path, r.png);
  return { ...r, path };
}
