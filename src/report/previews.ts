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
import { join } from "node:path";
import type { MaskLike } from "../metrics/mask.js";
import type { Rgb } from "./colormap.js";
import { robustRange, writeMapPng, writeOverlayPng, type Range } from "./png.js";

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

export function writePreviews(dir: string, input: PreviewInput): Previews {
  const { width, height, mask, scale } = input;
  const entries: PreviewFile[] = [];
  const add = (e: PreviewFile) => entries.push(e);

  const mode = input.phaseMode ?? "auto";
  const [plo, phi] = input.phase ? robustRange(input.phase, mask) : [0, 0];
  if (input.phase) {
    const wrapped = mode === "wrapped" || (mode === "auto" && phi - plo > Math.PI);
    const phasePath = join(dir, "phase.png");
    const phase = wrapped
      ? writeMapPng(phasePath, input.phase, width, height, { colormap: "twilight", range: [-Math.PI, Math.PI], wrap: true, mask, scale })
      : writeMapPng(phasePath, input.phase, width, height, { colormap: "grey", range: [plo, phi], mask, scale });
    add({ name: "phase.png", path: phasePath, kind: "phase", colormap: wrapped ? "twilight" : "grey", range: phase.range });
  }
  if (input.amplitude) {
    const ampPath = join(dir, "amplitude.png");
    const amp = writeMapPng(ampPath, input.amplitude, width, height, { colormap: "viridis", mask, scale });
    add({ name: "amplitude.png", path: ampPath, kind: "amplitude", colormap: "viridis", range: amp.range });
  }

  const used = new Set<string>();
  Object.entries(input.elements).forEach(([el, map], k) => {
    const safe = safeName(el);
    if (used.has(safe)) throw new Error(`writePreviews: elements "${el}" and another map to the same file name "${safe}"`);
    used.add(safe);
    const name = `element_${safe}.png`, path = join(dir, name);
    const r = writeMapPng(path, map, width, height, { colormap: "viridis", mask, scale });
    add({ name, path, kind: "element", element: el, colormap: "viridis", range: r.range });
    if (!input.phase) return;
    const oname = `overlay_${safe}.png`, opath = join(dir, oname);
    // the overlay's grey phase uses the linear robust range even when phase.png is wrapped
    const o = writeOverlayPng(opath, input.phase, map, width, height, {
      phaseRange: [plo, phi], elementRange: r.range, colour: OVERLAY_COLOURS[k % OVERLAY_COLOURS.length], mask, scale,
    });
    add({ name: oname, path: opath, kind: "overlay", element: el, colormap: "overlay", range: o.elementRange });
  });

  return {
    files: entries.map((e) => e.path),
    ranges: Object.fromEntries(entries.map((e) => [e.name, e.range])),
    entries,
  };
}
