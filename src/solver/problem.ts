/**
 * Loading a scan for reconstruction: the diffraction stack read once into shared memory (float32), the
 * object grid and scan windows, the XRF data, and the link the scan's metadata supports.
 */
import { objectShapeFor, pixelSize_m, positionsToPixels, wavelength_m, type ScanWindows } from "../physics/geometry.js";
import type { LinkSpec, ScanHeader } from "../scan/model.js";
import { ScanReader } from "../scan/read.js";
import { ConfigError, type LinkChoice } from "./config.js";

export interface LoadedScan {
  header: ScanHeader;
  /** [npos, N, N] counts as float32 on a SharedArrayBuffer (held once; engines adopt it). */
  diffraction: Float32Array;
  source: string;
}

/** Reads a scan file: header and the whole diffraction stack, block by block into shared memory. */
export async function loadScan(path: string): Promise<LoadedScan> {
  const r = await ScanReader.open(path);
  try {
    const header = r.header();
    const n = header.frameSize;
    const diffraction = new Float32Array(new SharedArrayBuffer(4 * header.npos * n * n));
    r.readAllFramesFloat32(diffraction);
    return { header, diffraction, source: path };
  } finally {
    r.close();
  }
}

export interface Geometry {
  pixelSize: number;
  height: number;
  width: number;
  windows: ScanWindows;
  /** Whole-pixel offset subtracted from the positions (metres) to centre the scan on the object. */
  offset_m: [number, number];
}

/**
 * Object grid and windows. Positions are centred on the scanned area by a whole number of pixels (a stage
 * offset is removed; a centred scan is left as it is). `grid` forces the object size (e.g. the truth's).
 */
export function scanGeometry(header: ScanHeader, subpixel: boolean, grid?: { height: number; width: number }): Geometry {
  const md = header.metadata;
  const n = header.frameSize;
  const dx = pixelSize_m(md.energy_keV, md.detector_distance_m, n, md.detector_pixel_size_m);
  const p = header.positions;
  let miny = Infinity, maxy = -Infinity, minx = Infinity, maxx = -Infinity;
  for (let i = 0; i < p.length; i += 2) {
    miny = Math.min(miny, p[i]); maxy = Math.max(maxy, p[i]);
    minx = Math.min(minx, p[i + 1]); maxx = Math.max(maxx, p[i + 1]);
  }
  const offset_m: [number, number] = [Math.round((miny + maxy) / 2 / dx) * dx, Math.round((minx + maxx) / 2 / dx) * dx];
  const centred = new Float64Array(p.length);
  for (let i = 0; i < p.length; i += 2) {
    centred[i] = p[i] - offset_m[0];
    centred[i + 1] = p[i + 1] - offset_m[1];
  }
  const shape = grid ?? objectShapeFor(centred, dx, n);
  const windows = positionsToPixels(centred, dx, shape, n, { subpixel });
  return { pixelSize: dx, height: shape.height, width: shape.width, windows, offset_m };
}

/** The link for this scan: linear (a_e = 1), or exponential from the per-element beta/delta of the scan. */
export function linkFor(header: ScanHeader, choice: LinkChoice): LinkSpec {
  const els = header.xrf.elements;
  const hasCoefficients = els.every((e) => e.beta !== undefined && e.delta !== undefined);
  const type = choice === "auto" ? (hasCoefficients ? "exponential" : "linear") : choice;
  if (type === "linear") return { type, weights: Object.fromEntries(els.map((e) => [e.symbol, 1])) };
  const missing = els.filter((e) => e.beta === undefined || e.delta === undefined).map((e) => e.symbol);
  if (missing.length) {
    throw new ConfigError([`the exponential link needs beta and delta for every element; the scan has none for ${missing.join(", ")} (attributes on /xrf/elemental_maps/<El>)`]);
  }
  return {
    type,
    k: (2 * Math.PI) / wavelength_m(header.metadata.energy_keV),
    coefficients: Object.fromEntries(els.map((e) => [e.symbol, { beta: e.beta!, delta: e.delta! }])),
    matrix: { beta: header.metadata.matrix_beta ?? 0, delta: header.metadata.matrix_delta ?? 0 },
  };
}

/** Measured fluorescence [E, npos] and sensitivities, in the scan's element order. */
export function xrfData(header: ScanHeader): { elements: string[]; sensitivity: Float32Array; measured: Float32Array } {
  const elements = header.xrf.elements.map((e) => e.symbol);
  const measured = new Float32Array(elements.length * header.npos);
  elements.forEach((el, e) => measured.set(header.xrf.maps[el], e * header.npos));
  const sensitivity = Float32Array.from(header.xrf.elements.map((e) => e.sensitivity ?? 1));
  return { elements, sensitivity, measured };
}
