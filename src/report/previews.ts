/**
 * The PNG previews of a run folder (DESIGN.md "Results"): phase, amplitude, each element, and each element
 * overlaid on the phase.
 *
 *   phase.png            phaseMode "auto" (default): a weak phase object (robust range <= pi) in grey over its
 *                        robust range; a phase spanning more than pi (wrapped phases) on the cyclic twilight
 *                        map over [-pi, pi), values wrapped. "linear" / "wrapped" force one of the two.
 *   amplitude.png        viridis, robust range.
 *   element_<El>.png     viridis, robust range.
 *   overlay_<El>.png     phase in grey, element in a colour (magenta, green, cyan, orange, ... by element order).
 *
 * Every map uses the same mask (pixels outside are dimmed and do not set the auto ranges). Element symbols are
 * reduced to [A-Za-z0-9_-] in file names. Returns the written paths and, per file name, the value range its
 * colour bar spans (for overlays: the element's range; the phase range is the phase.png one).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MaskLike } from "../metrics/mask.js";
import type { Rgb } from "./colormap.js";
import { renderMapPng, renderOverlayPng, robustRange, type MapPngOptions, type Range, type RenderedOverlay, type RenderedPng } from "./png.js";

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
  mask?: MaskLike;
  /** Integer upscaling or "auto" (default). */
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
}

export interface Previews {
  /** Paths of the written files, in writing order. */
  files: string[];
  /** Colour bar range per file name. */
  ranges: Record<string, Range>;
  entries: PreviewFile[];
}

export function safeName(symbol: string): string {
  const s = symbol.replace(/[^A-Za-z0-9_-]/g, "_");
  return s.length ? s : "_";
}

/** One preview to draw: what it shows, how its values map to colours, and a renderer (no file written). */
export interface PreviewPlan {
  name: string;
  kind: PreviewFile["kind"];
  element?: string;
  colormap: string;
  /** Range spanned by the colour bar. */
  range: Range;
  /** Overlays: the element's colour and the phase range of the grey base. */
  colour?: Rgb;
  phaseRange?: Range;
  /** Encodes the PNG; `colorbar: false` leaves the colour bar strip out (the HTML report draws its own). */
  render(o?: { colorbar?: boolean; scale?: number | "auto" }): RenderedPng | RenderedOverlay;
}

/** The previews of a run, in writing order, with their colour mapping decided (see the module comment). */
export function planPreviews(input: PreviewInput): PreviewPlan[] {
  const { width, height, mask } = input;
  const plans: PreviewPlan[] = [];
  const scaleOf = (o?: { scale?: number | "auto" }) => o?.scale ?? input.scale;

  const mode = input.phaseMode ?? "auto";
  const [plo, phi] = input.phase ? robustRange(input.phase, mask) : [0, 0];
  const phase = input.phase;
  if (phase) {
    const wrapped = mode === "wrapped" || (mode === "auto" && phi - plo > Math.PI);
    const opts: MapPngOptions = wrapped
      ? { colormap: "twilight", range: [-Math.PI, Math.PI], wrap: true, mask }
      : { colormap: "grey", range: [plo, phi], mask };
    plans.push({
      name: "phase.png", kind: "phase", colormap: wrapped ? "twilight" : "grey", range: opts.range as Range,
      render: (o) => renderMapPng(phase, width, height, { ...opts, scale: scaleOf(o), colorbar: o?.colorbar ?? true }),
    });
  }
  const amplitude = input.amplitude;
  if (amplitude) {
    const range = robustRange(amplitude, mask);
    plans.push({
      name: "amplitude.png", kind: "amplitude", colormap: "viridis", range,
      render: (o) => renderMapPng(amplitude, width, height, { colormap: "viridis", range, mask, scale: scaleOf(o), colorbar: o?.colorbar ?? true }),
    });
  }

  const used = new Set<string>();
  Object.entries(input.elements).forEach(([el, map], k) => {
    const safe = safeName(el);
    if (used.has(safe)) throw new Error(`writePreviews: elements "${el}" and another map to the same file name "${safe}"`);
    used.add(safe);
    const range = robustRange(map, mask);
    plans.push({
      name: `element_${safe}.png`, kind: "element", element: el, colormap: "viridis", range,
      render: (o) => renderMapPng(map, width, height, { colormap: "viridis", range, mask, scale: scaleOf(o), colorbar: o?.colorbar ?? true }),
    });
    if (!phase) return;
    // the overlay's grey phase uses the linear robust range even when phase.png is wrapped
    const colour = OVERLAY_COLOURS[k % OVERLAY_COLOURS.length];
    plans.push({
      name: `overlay_${safe}.png`, kind: "overlay", element: el, colormap: "overlay", range, colour, phaseRange: [plo, phi],
      render: (o) => renderOverlayPng(phase, map, width, height, {
        phaseRange: [plo, phi], elementRange: range, colour, mask, scale: scaleOf(o), colorbar: o?.colorbar ?? true,
      }),
    });
  });
  return plans;
}

export function writePreviews(dir: string, input: PreviewInput): Previews {
  const entries: PreviewFile[] = planPreviews(input).map((p) => {
    const path = join(dir, p.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, p.render().png);
    return { name: p.name, path, kind: p.kind, ...(p.element !== undefined ? { element: p.element } : {}), colormap: p.colormap, range: p.range };
  });
  return {
    files: entries.map((e) => e.path),
    ranges: Object.fromEntries(entries.map((e) => [e.name, e.range])),
    entries,
  };
}
