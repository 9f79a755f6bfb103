/**
 * Merges the partial scans of several inputs (and an optional mapping, which overrides them) into one
 * canonical scan header plus its frame source. Each field must come from exactly one place: two inputs
 * that disagree are an error naming both (a mapping file settles it), a field no input has is an error
 * naming what is missing and how to supply it.
 */
import type { FrameSource, ScanHeader, ScanMetadata } from "../model.js";
import { LayoutError, type PartialMetadata, type PartialScan, type PositionsPart } from "./partial.js";

export interface MergedScan {
  header: ScanHeader;
  frames: FrameSource;
  notes: string[];
}

const POSITION_TOLERANCE_M = 1e-9;
const METADATA_KEYS = ["energy_keV", "detector_distance_m", "detector_pixel_size_m", "matrix_beta", "matrix_delta", "sample", "beamline"] as const;
const REQUIRED_METADATA: Record<string, string> = {
  energy_keV: "the beam energy (metadata.energy or metadata.wavelength)",
  detector_distance_m: "the detector distance (metadata.detector_distance)",
  detector_pixel_size_m: "the detector pixel size (metadata.detector_pixel_size)",
};

function sameValue(a: number | string, b: number | string): boolean {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));
  return a === b;
}

function samePositions(a: PositionsPart, b: PositionsPart): boolean {
  return a.data.length === b.data.length && a.data.every((v, i) => Math.abs(v - b.data[i]) <= POSITION_TOLERANCE_M);
}

/** The one part carrying `pick`, the mapping's if it has one; two inputs carrying it is an error. */
function single<T extends { from: string }>(parts: PartialScan[], mapping: PartialScan | undefined, pick: (p: PartialScan) => T | undefined, what: string): T | undefined {
  const fromMapping = mapping && pick(mapping);
  if (fromMapping) return fromMapping;
  const found = parts.map(pick).filter((x): x is T => x !== undefined);
  if (found.length > 1) {
    throw new LayoutError(found[1].from, what, `${what} in one input only`, `${what} in ${found[0].from} too`, "say which to use in a mapping file (--mapping)");
  }
  return found[0];
}

export function mergePartials(parts: PartialScan[], mapping?: PartialScan): MergedScan {
  const all = mapping ? [...parts, mapping] : parts;
  const notes = all.flatMap((p) => p.notes.map((n) => `${p.source}: ${n}`));
  const ptycho = single(parts, mapping, (p) => p.ptycho, "diffraction frames");
  const xrf = single(parts, mapping, (p) => p.xrf, "XRF maps");
  const probeGuess = single(parts, mapping, (p) => p.probeGuess, "a probe guess");

  let positions = mapping?.positions;
  if (!positions) {
    const found = parts.map((p) => p.positions).filter((x): x is PositionsPart => x !== undefined);
    for (const other of found.slice(1)) {
      if (!samePositions(found[0], other)) {
        throw new LayoutError(other.from, "positions", `the same positions as ${found[0].from} (within 1 nm)`, `${other.data.length / 2} positions that differ`, "say which to use in a mapping file (positions:)");
      }
    }
    positions = found[0];
  }

  const metadata: Record<string, number | string> = {};
  const md: Record<string, { value: number | string; from: string }> = {};
  for (const key of METADATA_KEYS) {
    const fromMapping = mapping?.metadata[key as keyof PartialMetadata];
    if (fromMapping) md[key] = fromMapping;
    for (const p of fromMapping ? [] : parts) {
      const v = p.metadata[key as keyof PartialMetadata];
      if (!v) continue;
      if (md[key] && !sameValue(md[key].value, v.value)) {
        throw new LayoutError(v.from, key, `${md[key].value} (as ${md[key].from})`, String(v.value), `set metadata.${key.replace(/_(keV|m)$/, "")} in a mapping file to choose`);
      }
      md[key] ??= v;
    }
    if (md[key]) metadata[key] = md[key].value;
  }

  const missing = [
    ...(ptycho ? [] : ["diffraction frames (diffraction:)"]),
    ...(positions ? [] : ["scan positions (positions:)"]),
    ...(xrf ? [] : ["XRF element maps (xrf:)"]),
    ...Object.keys(REQUIRED_METADATA).filter((k) => md[k] === undefined).map((k) => REQUIRED_METADATA[k]),
  ];
  const sources = all.map((p) => `${p.source} (${p.layout})`).join(" + ");
  if (missing.length || !ptycho || !positions || !xrf) {
    throw new LayoutError(sources, "scan", `every part of a joint scan`, `no ${missing.join(", no ")}`, "supply them with --mapping FILE (docs/layouts.md)");
  }

  const npos = ptycho.npos;
  if (positions.data.length !== 2 * npos) {
    throw new LayoutError(positions.from, "positions", `${npos} positions (one per frame of ${ptycho.from})`, `${positions.data.length / 2}`);
  }
  for (const [name, map] of Object.entries(xrf.maps)) {
    if (map.length !== npos) {
      const shape = xrf.raster ? `[${xrf.raster.join(", ")}]` : `[${map.length}]`;
      throw new LayoutError(xrf.from, name, `${npos} values (one per frame of ${ptycho.from})`, `${shape} = ${map.length} values`);
    }
  }
  if (xrf.spectra && xrf.spectra.data.length !== npos * xrf.spectra.channels) {
    throw new LayoutError(xrf.from, "spectra", `[${npos}, channels]`, `${xrf.spectra.data.length} values`);
  }
  const raster = xrf.raster ?? positions.raster;
  if (probeGuess && probeGuess.value.n !== ptycho.frameSize) {
    throw new LayoutError(probeGuess.from, "probe guess", `probe modes of ${ptycho.frameSize} x ${ptycho.frameSize} (the frame size of ${ptycho.from})`, `${probeGuess.value.n} x ${probeGuess.value.n}`);
  }
  const header: ScanHeader = {
    metadata: { ...(metadata as unknown as ScanMetadata), source: `ptyxrf convert from ${sources}` },
    npos,
    frameSize: ptycho.frameSize,
    positions: positions.data,
    xrf: {
      elements: xrf.elements, maps: xrf.maps,
      ...(raster && raster[0] * raster[1] === npos ? { raster } : {}),
      ...(xrf.spectra ? { spectra: xrf.spectra } : {}),
    },
    ...(probeGuess ? { probeGuess: probeGuess.value } : {}),
  };
  return { header, frames: ptycho.frames, notes };
}
