/**
 * The canonical layout (layout.ts) read as a partial: whatever halves the file has. A complete canonical
 * scan converts to itself; a canonical file holding only the ptychography (or only the XRF) half can be
 * merged with another input.
 */
import { getGroup, numericAttr, toNumber } from "../h5access.js";
import { ELEMENT_ATTRS, OPTIONAL_NUMERIC_ATTRS, OPTIONAL_TEXT_ATTRS, PATHS, REQUIRED_ATTRS } from "../layout.js";
import type { ElementInfo } from "../model.js";
import { metadataAttr, readProbe } from "../read.js";
import { cropWindow, segmentedFrames } from "./frames.js";
import { H5Input, shapeText } from "./h5input.js";
import { LayoutError, sourced, type PartialMetadata, type PartialScan } from "./partial.js";

export function isCanonical(input: H5Input): boolean {
  return input.has(PATHS.diffraction) || input.has(PATHS.xrfMaps);
}

function positions(input: H5Input, p: string): Float64Array {
  const ds = input.dataset(p);
  const shape = ds.shape ?? [];
  if (shape.length !== 2 || shape[1] !== 2) throw new LayoutError(input.name, p, "[Npos, 2] (y, x) in metres", shapeText(shape));
  return input.numbers(ds, "positions");
}

export function readCanonical(input: H5Input): PartialScan {
  const metadata: PartialMetadata = {};
  const md = metadata as Record<string, unknown>;
  for (const a of [...REQUIRED_ATTRS, ...OPTIONAL_NUMERIC_ATTRS]) {
    const v = toNumber(metadataAttr(input.file, a));
    if (v !== undefined) md[a] = sourced(v, `${input.name}@${a}`);
  }
  for (const a of OPTIONAL_TEXT_ATTRS) {
    const v = metadataAttr(input.file, a);
    if (typeof v === "string" && a !== "source") md[a] = sourced(v, `${input.name}@${a}`);
  }
  const partial: PartialScan = { source: input.name, layout: "canonical", metadata, notes: [], close: () => {} };
  const diffraction = input.optional(PATHS.diffraction);
  if (diffraction) {
    const shape = diffraction.shape ?? [];
    const crop = cropWindow(shape[1] ?? 0, shape[2] ?? 0, undefined, shape[1] === shape[2] ? shape[1] : undefined, { file: input.name, path: PATHS.diffraction });
    const { frames, npos } = segmentedFrames([{ ds: diffraction, file: input.name }], crop);
    partial.ptycho = { npos, frameSize: crop.size, frames, from: `${input.name}:${PATHS.diffraction}` };
  }
  const probe = input.optional(PATHS.probeGuess);
  if (probe) partial.probeGuess = sourced(readProbe(probe), `${input.name}:${PATHS.probeGuess}`);
  const pos = input.has(PATHS.positions) ? PATHS.positions : input.has(PATHS.xrfPositions) ? PATHS.xrfPositions : null;
  if (pos) partial.positions = { data: positions(input, pos), from: `${input.name}:${pos}` };
  const group = getGroup(input.file, PATHS.xrfMaps);
  if (group) {
    const elements: ElementInfo[] = [];
    const maps: Record<string, Float32Array> = {};
    let raster: [number, number] | undefined;
    for (const symbol of group.keys()) {
      const ds = input.dataset(`${PATHS.xrfMaps}/${symbol}`);
      const shape = ds.shape ?? [];
      if (shape.length === 2) raster = [shape[0], shape[1]];
      maps[symbol] = Float32Array.from(input.numbers(ds, "map values"));
      const info: ElementInfo = { symbol };
      for (const a of ELEMENT_ATTRS) {
        const v = numericAttr(ds, a);
        if (v !== undefined) info[a] = v;
      }
      elements.push(info);
    }
    partial.xrf = { elements, maps, ...(raster ? { raster } : {}), from: `${input.name}:${PATHS.xrfMaps}` };
    const spectra = input.optional(PATHS.xrfSpectra);
    if (spectra && spectra.shape?.length === 2) {
      partial.xrf.spectra = { channels: spectra.shape[1], data: Float32Array.from(input.numbers(spectra, "spectra")) };
    }
  }
  return partial;
}
