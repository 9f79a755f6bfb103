/**
 * A structured summary of a scan (what `ptyxrf info` prints): geometry, scan extent and step, detector
 * frames, XRF maps. Reads the header and a bounded sample of frames.
 */
import { pixelSizeFromGeometry } from "./geometryFacts.js";
import type { ScanReader } from "./read.js";
import { sampleIndices } from "./validate.js";

export interface ScanSummary {
  file: string;
  fileBytes: number;
  npos: number;
  frameSize: number;
  dtype: string;
  filters: string[];
  energy_keV: number;
  wavelength_m: number;
  detector_distance_m: number;
  detector_pixel_size_m: number;
  objectPixel_m: number;
  extent_m: { y: number; x: number };
  /** Median nearest-neighbour distance between positions, metres. */
  step_m: number;
  pattern: "raster" | "irregular";
  objectPixels: { y: number; x: number };
  counts: { framesSampled: number; meanTotal: number; maxPixel: number };
  elements: { symbol: string; min: number; max: number; mean: number; sensitivity?: number; beta?: number; delta?: number }[];
  raster?: [number, number];
  probeGuess?: { modes: number; n: number };
  spectraChannels?: number;
  metadata: Record<string, unknown>;
}

function medianNearestNeighbour(pos: Float64Array): number {
  const n = pos.length / 2;
  if (n < 2) return 0;
  const d: number[] = [];
  const stride = Math.max(1, Math.floor(n / 200)); // bounded cost on large scans
  for (let i = 0; i < n; i += stride) {
    let best = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dy = pos[2 * i] - pos[2 * j], dx = pos[2 * i + 1] - pos[2 * j + 1];
      const r = Math.hypot(dy, dx);
      if (r > 0 && r < best) best = r;
    }
    if (Number.isFinite(best)) d.push(best);
  }
  d.sort((a, b) => a - b);
  return d.length ? d[d.length >> 1] : 0;
}

export function summarizeScan(r: ScanReader, sampleFrames = 8): ScanSummary {
  const h = r.header();
  const md = h.metadata;
  const dx = pixelSizeFromGeometry(md.energy_keV, md.detector_distance_m, h.frameSize, md.detector_pixel_size_m);
  let miny = Infinity, maxy = -Infinity, minx = Infinity, maxx = -Infinity;
  for (let i = 0; i < h.positions.length; i += 2) {
    miny = Math.min(miny, h.positions[i]); maxy = Math.max(maxy, h.positions[i]);
    minx = Math.min(minx, h.positions[i + 1]); maxx = Math.max(maxx, h.positions[i + 1]);
  }
  const extent = { y: maxy - miny, x: maxx - minx };
  let total = 0, maxPixel = 0;
  const sample = sampleIndices(h.npos, sampleFrames);
  for (const i of sample) {
    const f = r.readFrames(i, 1);
    for (let k = 0; k < f.length; k++) {
      total += f[k];
      if (f[k] > maxPixel) maxPixel = f[k];
    }
  }
  const elements = h.xrf.elements.map((e) => {
    const m = h.xrf.maps[e.symbol];
    let min = Infinity, max = -Infinity, sum = 0;
    for (const v of m) { min = Math.min(min, v); max = Math.max(max, v); sum += v; }
    return { ...e, min, max, mean: sum / m.length };
  });
  return {
    file: r.source.name,
    fileBytes: r.source.size,
    npos: h.npos,
    frameSize: h.frameSize,
    dtype: r.dtype,
    filters: (r.diffraction.filters ?? []).map((f) => f.name || `filter ${f.id}`),
    energy_keV: md.energy_keV,
    wavelength_m: 12.398419843320026e-10 / md.energy_keV,
    detector_distance_m: md.detector_distance_m,
    detector_pixel_size_m: md.detector_pixel_size_m,
    objectPixel_m: dx,
    extent_m: extent,
    step_m: medianNearestNeighbour(h.positions),
    pattern: h.xrf.raster ? "raster" : "irregular",
    objectPixels: { y: Math.ceil(extent.y / dx) + h.frameSize, x: Math.ceil(extent.x / dx) + h.frameSize },
    counts: { framesSampled: sample.length, meanTotal: total / Math.max(1, sample.length), maxPixel },
    elements,
    ...(h.xrf.raster ? { raster: h.xrf.raster } : {}),
    ...(h.probeGuess ? { probeGuess: { modes: h.probeGuess.modes, n: h.probeGuess.n } } : {}),
    ...(h.xrf.spectra ? { spectraChannels: h.xrf.spectra.channels } : {}),
    metadata: { ...md },
  };
}
