/**
 * The PNG previews of a run folder (DESIGN.md "Results", docs/reports.md "PNG previews"): phase, amplitude,
 * each element, and each element overlaid on the phase, each a stand-alone figure (figure.ts): the map with a
 * title, a colour bar with round ticks and a label with the unit, and a scale bar.
 *
 *   phase.png            phaseMode "auto" (default): the phase on a linear grey scale over its robust range
 *                        (phaseDisplay below), unless the phase covers the whole circle: then on the cyclic
 *                        twilight map over [-pi, pi), values wrapped. "linear" / "wrapped" force one of the two.
 *   amplitude.png        viridis, robust range; dimensionless.
 *   element_<El>.png     viridis, robust range; in the element maps' unit (`elementUnit`: µg/cm² areal density
 *                        under the exponential link and in XRF-only runs, object units under the linear link).
 *   overlay_<El>.png     phase in grey, element in a colour (magenta, green, cyan, orange, ... by element order),
 *                        with a colour bar for each.
 *
 * Crop and mask: with a mask (the illuminated region) the maps are cropped to the mask's bounding box (`crop`,
 * default true) and the pixels outside the mask are not drawn (a light hatching); only the mask's pixels set
 * the ranges. The full object stays in result.h5. Robust range: the 1st and 99th percentiles (png.ts).
 *
 * Element symbols are reduced to [A-Za-z0-9_-] in file names. Returns the written paths and, per file name,
 * the value range its colour bar spans (for overlays: the element's range; the phase range is the phase.png
 * one).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MaskLike } from "../metrics/mask.js";
import { AMPLITUDE, AREAL_DENSITY, OBJECT_UNITS, PHASE, type Unit } from "../scan/units.js";
import { resolveColormap, type Rgb } from "./colormap.js";
import { cropMap, cropMask, maskBounds, type Rect } from "./crop.js";
import { renderFigure, type FigureBar, type RenderedFigure } from "./figure.js";
import { formatTick } from "./ticks.js";
import {
  encodeMap, lutRgb, mapPixels, overlayBarColour, overlayPixels, robustRange, type Range, type RenderedOverlay, type RenderedPng,
} from "./png.js";

export const OVERLAY_COLOURS: Rgb[] = [
  [255, 0, 255], [0, 230, 0], [0, 220, 255], [255, 140, 0], [255, 255, 0], [255, 60, 60],
];

export interface PreviewInput {
  /** The object's phase and amplitude; absent for an XRF-only run (then no phase, amplitude or overlays). */
  phase?: ArrayLike<number>;
  amplitude?: ArrayLike<number>;
  width: number;
  height: number;
  elements: Record<string, ArrayLike<number>>;
  /** The illuminated region: sets the ranges and the crop; outside it nothing is drawn. */
  mask?: MaskLike;
  /** Crop the maps to the mask's bounding box (default true; no effect without a mask). */
  crop?: boolean;
  /** Object pixel size in metres: the figures get a scale bar. */
  pixelSize_m?: number;
  /** Unit of the element maps (units.ts elementMapUnit(link)); default µg/cm² areal density. */
  elementUnit?: Unit;
  /** Integer upscaling of the figures' maps, or "auto" (default: longer side >= 512 pixels). */
  scale?: number | "auto";
  phaseMode?: "auto" | "linear" | "wrapped";
}

export interface PreviewFile {
  /** File name inside the folder, e.g. "overlay_Fe.png". */
  name: string;
  path: string;
  kind: "phase" | "amplitude" | "element" | "overlay";
  element?: string;
  colormap: string;
  /** Range spanned by the colour bar. */
  range: Range;
  /** Colour bar label, with the unit. */
  label: string;
}

export interface Previews {
  /** Paths of the written files, in writing order. */
  files: string[];
  /** Colour bar range per file name. */
  ranges: Record<string, Range>;
  entries: PreviewFile[];
}

export function fileSafeSymbol(symbol: string): string {
  const s = symbol.replace(/[^A-Za-z0-9_-]/g, "_");
  return s.length ? s : "_";
}

/** One preview to draw: what it shows, how its values map to colours, and its renderers (no file written). */
export interface PreviewPlan {
  name: string;
  kind: PreviewFile["kind"];
  element?: string;
  colormap: string;
  /** Range spanned by the colour bar. */
  range: Range;
  /** Title of the figure ("Phase", "Fe areal density", "Fe on phase"). */
  title: string;
  /** Colour bar label with the unit ("phase (rad)", "Fe areal density (µg/cm²)"). */
  label: string;
  unit: Unit;
  /** How the values are shown, when it needs saying (a wrapped phase, a moved branch cut). */
  note?: string;
  /** Colour of the colour bar at t in [0, 1] (0 = range[0]). */
  barColour: (t: number) => Rgb;
  /** Overlays: the element's colour, and the grey phase base's range and label. */
  colour?: Rgb;
  phaseRange?: Range;
  phaseLabel?: string;
  /** The part of the object grid shown (the mask's bounding box, or the whole grid). */
  crop: Rect;
  /** The stand-alone PNG figure (title, colour bars, scale bar). */
  figure(o?: { scale?: number | "auto" }): RenderedFigure;
  /** Only the (cropped) map, upscaled, without any decoration (the HTML report draws its own). */
  image(o?: { scale?: number | "auto" }): RenderedPng | RenderedOverlay;
}

export interface PhaseDisplay {
  /** On the cyclic map over [-pi, pi) (the phase covers the whole circle), or linear over `range`. */
  wrapped: boolean;
  /**
   * The branch cut of the linear display, in [-pi, pi): the phase is shown in [cut, cut + 2 pi) or in
   * [cut - 2 pi, cut), whichever changes fewer of the values (so a phase that straddles +-pi shows as one range,
   * e.g. -3.3 .. -2.8 rad). -pi when the usual (-pi, pi] needs no change.
   */
  cut: number;
  /** How many analysed values the cut moved, and by how much (+2 pi or -2 pi; 0 when none). */
  shifted: number;
  shiftedBy: number;
  range: Range;
  /** The phase as displayed (the input itself when nothing is shifted). */
  data: ArrayLike<number>;
  /**
   * A value held exactly by at least 5 % of the analysed pixels (e.g. pi/2 wherever a linear-link object
   * O = sum a c + i y has all element maps 0): such a plateau at an end of the scale is data, not clipping.
   */
  pinned?: { value: number; fraction: number };
}

/** Fraction of the analysed pixels at one exact value above which the figure says so. */
export const PINNED_FRACTION = 0.05;

/** Fraction of 2 pi above which the robust span of the phase counts as "covers the circle". */
export const WRAP_FRACTION = 0.9;

const TWO_PI = 2 * Math.PI;
/** The phase in [-pi, pi). */
const principal = (v: number) => (v >= Math.PI || v < -Math.PI ? v - TWO_PI * Math.floor((v + Math.PI) / TWO_PI) : v);

/**
 * How to show a phase map (docs/reports.md "PNG previews"). A phase is known modulo 2 pi; the finite values
 * inside the mask are placed on the circle and the branch cut goes into the widest gap between them (where
 * no pixel has its phase). If the robust span (1st to 99th percentile) of the values so unwrapped still exceeds
 * 90 % of 2 pi, the phase covers the whole circle: wrapped display on the cyclic map over [-pi, pi). Otherwise
 * a linear display over that robust range. "linear" forces the robust range of the values as they are,
 * "wrapped" the cyclic map.
 */
export function phaseDisplay(phase: ArrayLike<number>, mask?: MaskLike, mode: "auto" | "linear" | "wrapped" = "auto"): PhaseDisplay {
  if (mode === "wrapped") return { wrapped: true, cut: -Math.PI, shifted: 0, shiftedBy: 0, range: [-Math.PI, Math.PI], data: phase };
  const asIs: PhaseDisplay = { wrapped: false, cut: -Math.PI, shifted: 0, shiftedBy: 0, range: robustRange(phase, mask), data: phase };
  if (mode === "linear") return asIs;
  const vals: number[] = [];
  for (let i = 0; i < phase.length; i++) {
    if (mask && !mask[i]) continue;
    const v = phase[i];
    if (Number.isFinite(v)) vals.push(principal(v));
  }
  if (vals.length < 2) return asIs;
  const sorted = Float64Array.from(vals).sort();
  const n = sorted.length;
  let run = 1, bestRun = 1, bestValue = sorted[0];
  for (let j = 1; j < n; j++) {
    run = sorted[j] === sorted[j - 1] ? run + 1 : 1;
    if (run > bestRun) { bestRun = run; bestValue = sorted[j]; }
  }
  const pinned = bestRun >= PINNED_FRACTION * n ? { pinned: { value: bestValue, fraction: bestRun / n } } : {};
  // the widest gap between neighbours on the circle; k = 0 is the one across +-pi
  let k = 0, widest = sorted[0] + TWO_PI - sorted[n - 1];
  for (let j = 1; j < n; j++) if (sorted[j] - sorted[j - 1] > widest) { widest = sorted[j] - sorted[j - 1]; k = j; }
  const cut = k === 0 ? -Math.PI : (sorted[k - 1] + sorted[k]) / 2;
  // move the smaller side by 2 pi: the values >= cut down, or the values < cut up
  const down = n - k <= k;
  const shiftOf = (v: number) => (v >= cut ? (down ? -TWO_PI : 0) : (down ? 0 : TWO_PI));
  const shown = k === 0 ? sorted : Float64Array.from(sorted, (v) => v + shiftOf(v)).sort();
  const pct = (p: number) => {
    const x = (p / 100) * (n - 1), j = Math.floor(x), f = x - j;
    return j + 1 < n ? shown[j] * (1 - f) + shown[j + 1] * f : shown[j];
  };
  const range: Range = [pct(1), pct(99)];
  if (range[1] - range[0] > WRAP_FRACTION * TWO_PI) return { wrapped: true, cut: -Math.PI, shifted: 0, shiftedBy: 0, range: [-Math.PI, Math.PI], data: phase, ...pinned };
  let moved = 0;
  for (let i = 0; i < phase.length; i++) {
    const v = phase[i];
    if ((!mask || mask[i]) && Number.isFinite(v) && shiftOf(principal(v)) !== 0) moved++;
  }
  if (moved === 0 && k === 0) return { wrapped: false, cut: -Math.PI, shifted: 0, shiftedBy: 0, range, data: phase, ...pinned };
  const data = new Float32Array(phase.length);
  for (let i = 0; i < phase.length; i++) {
    const v = phase[i];
    data[i] = Number.isFinite(v) ? principal(v) + shiftOf(principal(v)) : v;
  }
  return { wrapped: false, cut, shifted: moved, shiftedBy: moved ? (down ? -TWO_PI : TWO_PI) : 0, range, data, ...pinned };
}

/** Title and colour bar label of an element map in `unit`. */
export function elementWording(el: string, unit: Unit): { title: string; label: string } {
  if (unit === OBJECT_UNITS) return { title: `${el} (linear link)`, label: `${el} (object units, linear link)` };
  return { title: `${el} ${unit.quantity}`, label: unit.label ? `${el} ${unit.quantity} (${unit.label})` : `${el} ${unit.quantity}` };
}

/** " (π/2)" when v is a multiple of pi/2 other than 0 (to float32 precision), else "". */
function piFraction(v: number): string {
  const k = Math.round(v / (Math.PI / 2));
  if (k === 0 || Math.abs(v - (k * Math.PI) / 2) > 1e-6) return "";
  const names: Record<number, string> = { 1: "π/2", 2: "π", [-1]: "−π/2", [-2]: "−π" };
  return names[k] ? ` (${names[k]})` : "";
}

export const PHASE_LABEL = `phase (${PHASE.label})`;
export const AMPLITUDE_LABEL = "amplitude (dimensionless)";

/** The previews of a run, in writing order, with their colour mapping decided (see the module comment). */
export function planPreviews(input: PreviewInput): PreviewPlan[] {
  const { width: W, height: H } = input;
  const fullMask = input.mask;
  const rect: Rect = (input.crop ?? true) && fullMask ? maskBounds(fullMask, W, H) ?? { x: 0, y: 0, width: W, height: H } : { x: 0, y: 0, width: W, height: H };
  const cropped = rect.width !== W || rect.height !== H;
  const view = (data: ArrayLike<number>): ArrayLike<number> => (cropped ? cropMap(data, W, rect) : data);
  const mask = fullMask ? (cropped ? cropMask(fullMask, W, rect) : fullMask) : undefined;
  const w = rect.width, h = rect.height;
  const px = input.pixelSize_m;
  const elementUnit = input.elementUnit ?? AREAL_DENSITY;
  const plans: PreviewPlan[] = [];
  const scaleOf = (o?: { scale?: number | "auto" }) => o?.scale ?? input.scale ?? "auto";
  const figure = (title: string, pixel: (i: number) => Rgb | null, bars: FigureBar[], o?: { scale?: number | "auto" }, note?: string) =>
    renderFigure({ width: w, height: h, pixel, title, bars, scale: scaleOf(o), ...(px ? { pixelSize_m: px } : {}), ...(note ? { note } : {}) });
  const imageScale = (o?: { scale?: number | "auto" }) => o?.scale ?? "auto";

  const phase = input.phase ? view(input.phase) : undefined;
  const display = phase ? phaseDisplay(phase, mask, input.phaseMode ?? "auto") : null;
  // the overlays' grey phase: the linear display's range, or the robust range when phase.png is wrapped
  const base = display ? (display.wrapped ? { data: phase!, range: robustRange(phase!, mask) } : { data: display.data, range: display.range }) : null;
  if (phase && display) {
    const lut = resolveColormap(display.wrapped ? "twilight" : "grey");
    const pixel = mapPixels(display.data, lut, display.range, { mask, wrap: display.wrapped, outside: "hatch" });
    const barColour = (t: number) => lutRgb(lut, t);
    const notes = [
      display.wrapped ? "wrapped, cyclic map" : "",
      display.shifted ? `branch cut at ${formatTick(display.cut, 0.01)} rad: ${display.shifted} pixel${display.shifted === 1 ? "" : "s"} shown ${display.shiftedBy > 0 ? "+" : "−"}2π` : "",
      display.pinned ? `${Math.round(100 * display.pinned.fraction)} % of pixels at exactly ${formatTick(display.pinned.value, 0.001)} rad${piFraction(display.pinned.value)}` : "",
    ].filter(Boolean);
    const note = notes.length ? notes.join("; ") : undefined;
    plans.push({
      name: "phase.png", kind: "phase", colormap: display.wrapped ? "twilight" : "grey", range: display.range,
      title: display.wrapped ? "Phase (wrapped)" : "Phase", label: PHASE_LABEL, unit: PHASE, barColour, crop: rect, ...(note ? { note } : {}),
      figure: (o) => figure(display.wrapped ? "Phase (wrapped)" : "Phase", pixel, [{ colour: barColour, range: display.range, label: PHASE_LABEL }], o, display.wrapped ? undefined : note),
      image: (o) => encodeMap(pixel, w, h, imageScale(o), display.range),
    });
  }
  const amplitude = input.amplitude ? view(input.amplitude) : undefined;
  if (amplitude) {
    const range = robustRange(amplitude, mask);
    const lut = resolveColormap("viridis");
    const pixel = mapPixels(amplitude, lut, range, { mask, outside: "hatch" });
    const barColour = (t: number) => lutRgb(lut, t);
    plans.push({
      name: "amplitude.png", kind: "amplitude", colormap: "viridis", range, title: "Amplitude", label: AMPLITUDE_LABEL, unit: AMPLITUDE,
      barColour, crop: rect,
      figure: (o) => figure("Amplitude", pixel, [{ colour: barColour, range, label: AMPLITUDE_LABEL }], o),
      image: (o) => encodeMap(pixel, w, h, imageScale(o), range),
    });
  }

  const used = new Set<string>();
  Object.entries(input.elements).forEach(([el, full], k) => {
    const safe = fileSafeSymbol(el);
    if (used.has(safe)) throw new Error(`writePreviews: elements "${el}" and another map to the same file name "${safe}"`);
    used.add(safe);
    const map = view(full);
    const range = robustRange(map, mask);
    const words = elementWording(el, elementUnit);
    const lut = resolveColormap("viridis");
    const pixel = mapPixels(map, lut, range, { mask, outside: "hatch" });
    const barColour = (t: number) => lutRgb(lut, t);
    plans.push({
      name: `element_${safe}.png`, kind: "element", element: el, colormap: "viridis", range, title: words.title, label: words.label,
      unit: elementUnit, barColour, crop: rect,
      figure: (o) => figure(words.title, pixel, [{ colour: barColour, range, label: words.label }], o),
      image: (o) => encodeMap(pixel, w, h, imageScale(o), range),
    });
    if (!base) return;
    const colour = OVERLAY_COLOURS[k % OVERLAY_COLOURS.length];
    const opix = overlayPixels(base.data, map, base.range, range, { colour, mask, outside: "hatch" });
    const obar = overlayBarColour(colour);
    const grey = (t: number): Rgb => { const g = lutRgb(resolveColormap("grey"), t)[0]; return [g, g, g]; };
    plans.push({
      name: `overlay_${safe}.png`, kind: "overlay", element: el, colormap: "overlay", range, title: `${el} on phase`, label: words.label,
      unit: elementUnit, barColour: obar, colour, phaseRange: base.range, phaseLabel: PHASE_LABEL, crop: rect,
      figure: (o) => figure(`${el} on phase`, opix, [{ colour: grey, range: base.range, label: PHASE_LABEL }, { colour: obar, range, label: words.label }], o),
      image: (o) => {
        const r = encodeMap(opix, w, h, imageScale(o), range);
        return { png: r.png, width: r.width, height: r.height, scale: r.scale, phaseRange: base.range, elementRange: range };
      },
    });
  });
  return plans;
}

export function writePreviews(dir: string, input: PreviewInput): Previews {
  const entries: PreviewFile[] = planPreviews(input).map((p) => {
    const path = join(dir, p.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, p.figure().png);
    return { name: p.name, path, kind: p.kind, ...(p.element !== undefined ? { element: p.element } : {}), colormap: p.colormap, range: p.range, label: p.label };
  });
  return {
    files: entries.map((e) => e.path),
    ranges: Object.fromEntries(entries.map((e) => [e.name, e.range])),
    entries,
  };
}
