/**
 * Eiger (DECTRIS, NeXus) master files: the frames live in data files the master points to with external
 * links `/entry/data/data_000001`, `data_000002`, ... (each to `NAME_data_00000k.h5:/entry/data/data`),
 * concatenated in link-name order; detector geometry under `/entry/instrument/detector`; the beam energy
 * from `/entry/instrument/beam/incident_wavelength` or `detectorSpecific/photon_energy`. Frames are cropped
 * around the beam centre (frames.ts). An Eiger master has no scan positions and no XRF: those come from
 * another input or a mapping file.
 */
import fs from "node:fs";
import path from "node:path";
import { fileKind } from "../byteSource.js";
import { describeDtype } from "../h5access.js";
import { safeName } from "../safeText.js";
import { cropWindow, segmentedFrames, type FrameSegment } from "./frames.js";
import { H5Input, shapeText } from "./h5input.js";
import { LayoutError, sourced, type PartialMetadata, type PartialScan } from "./partial.js";
import { energyFactor, lengthFactor, wavelengthToKeV } from "./units.js";

export const EIGER_PATHS = {
  data: "/entry/data",
  detector: "/entry/instrument/detector",
  pixelX: "/entry/instrument/detector/x_pixel_size",
  pixelY: "/entry/instrument/detector/y_pixel_size",
  distance: "/entry/instrument/detector/detector_distance",
  beamX: "/entry/instrument/detector/beam_center_x",
  beamY: "/entry/instrument/detector/beam_center_y",
  countTime: "/entry/instrument/detector/count_time",
  wavelength: "/entry/instrument/beam/incident_wavelength",
  photonEnergy: "/entry/instrument/detector/detectorSpecific/photon_energy",
  pixelMask: "/entry/instrument/detector/detectorSpecific/pixel_mask",
} as const;

export interface EigerOptions {
  /** Side of the cropped frames (a power of two); default the largest that fits around the beam centre. */
  frameSize?: number;
}

/** True when the file looks like an Eiger master: /entry/data holding data_NNNNNN links or datasets. */
export function isEigerMaster(input: H5Input): boolean {
  if (input.kind(EIGER_PATHS.data) !== "group") return false;
  return dataNames(input).length > 0;
}

function dataNames(input: H5Input): string[] {
  const g = input.file.get(EIGER_PATHS.data) as { keys(): string[] };
  return g.keys().filter((k) => /^data_\d+$/.test(k)).sort();
}

/** A length in metres from a dataset with an optional `units` attribute (default `defaultUnit`). */
function length(input: H5Input, p: string, defaultUnit: string): { value: number; from: string } | undefined {
  const s = input.scalar(p);
  if (!s) return undefined;
  const unit = s.units ?? defaultUnit;
  const f = lengthFactor(unit);
  if (f === undefined) throw new LayoutError(input.name, `${p}@units`, "a length unit (m, mm, um, nm, A)", `"${unit}"`);
  return { value: s.value * f, from: s.from };
}

function energy(input: H5Input, notes: string[]): { value: number; from: string } | undefined {
  const w = length(input, EIGER_PATHS.wavelength, "A");
  if (w && w.value > 0) return { value: wavelengthToKeV(w.value), from: w.from };
  const e = input.scalar(EIGER_PATHS.photonEnergy);
  if (!e) return undefined;
  const f = energyFactor(e.units ?? "eV");
  if (f === undefined) throw new LayoutError(input.name, `${EIGER_PATHS.photonEnergy}@units`, "eV or keV", `"${e.units}"`);
  notes.push(`energy from ${EIGER_PATHS.photonEnergy} (no incident_wavelength)`);
  return { value: e.value * f, from: e.from };
}

/** The data segments: each data_NNNNNN link followed to its file (opened read-only), or a dataset in the master. */
async function openSegments(input: H5Input, opened: H5Input[]): Promise<FrameSegment[]> {
  const segments: FrameSegment[] = [];
  for (const name of dataNames(input)) {
    const p = `${EIGER_PATHS.data}/${name}`;
    const link = input.externalLink(p);
    if (!link) {
      segments.push({ ds: input.dataset(p, "a stack of frames or an external link to one"), file: input.name });
      continue;
    }
    const target = path.resolve(input.dir, link.filename);
    const named = `a link to "${safeName(link.filename)}:${safeName(link.target)}"`;
    // Only files beside the master are followed: a master file names whatever it likes, and must not make
    // ptyxrf read elsewhere on this machine (or hang on a FIFO, or stream a device).
    if (path.dirname(target) !== input.dir) {
      throw new LayoutError(input.name, p, `an external link to a data file beside the master (in ${input.dir})`, `${named}, which is elsewhere (${safeName(target)})`, "copy the data files next to the master file");
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(target);
    } catch {
      throw new LayoutError(input.name, p, `an external link to an existing data file`, `${named}, and ${safeName(target)} does not exist`, "copy the data files next to the master file");
    }
    if (!st.isFile()) {
      throw new LayoutError(input.name, p, `an external link to a regular data file beside the master`, `${named}, and ${safeName(target)} is ${fileKind(st)}`);
    }
    const data = await H5Input.open(target, `an Eiger data file (linked from ${input.name}:${p})`);
    opened.push(data);
    segments.push({ ds: data.dataset(link.target, `a stack of frames (linked from ${input.name}:${p})`), file: target });
  }
  return segments;
}

export async function readEiger(input: H5Input, options: EigerOptions = {}): Promise<PartialScan> {
  const notes: string[] = [];
  const opened: H5Input[] = [];
  const close = () => opened.forEach((f) => f.close());
  try {
    const segments = await openSegments(input, opened);
    if (!segments.length) throw new LayoutError(input.name, EIGER_PATHS.data, "data_000001, data_000002, ... (frames or links to them)", "none");
    const shape = segments[0].ds.shape ?? [];
    const ny = shape[1] ?? 0, nx = shape[2] ?? 0;

    const bx = input.scalar(EIGER_PATHS.beamX), by = input.scalar(EIGER_PATHS.beamY);
    const centre: [number, number] | undefined = bx && by ? [by.value, bx.value] : undefined;
    const crop = cropWindow(ny, nx, centre, options.frameSize, { file: input.name, path: EIGER_PATHS.data });
    if (crop.defaultCentre) notes.push(`no beam centre (${EIGER_PATHS.beamX}, ${EIGER_PATHS.beamY}): frames cropped around the detector centre`);
    notes.push(`frames cropped from ${ny} x ${nx} to ${crop.size} x ${crop.size} at (y ${crop.y0}, x ${crop.x0}) around the beam centre (y ${crop.centre[0]}, x ${crop.centre[1]})`);

    let mask: Uint8Array | undefined;
    const maskDs = input.optional(EIGER_PATHS.pixelMask);
    if (maskDs) {
      const ms = maskDs.shape ?? [];
      if (ms.length !== 2 || ms[0] !== ny || ms[1] !== nx) throw new LayoutError(input.name, EIGER_PATHS.pixelMask, `a [${ny}, ${nx}] mask (the frame shape)`, `${shapeText(ms)} ${describeDtype(maskDs)}`);
      const m = input.numbers(maskDs, "mask values");
      mask = Uint8Array.from(m, (v) => (v !== 0 ? 1 : 0));
    }
    const { frames, npos } = segmentedFrames(segments, crop, mask);
    if (mask) notes.push(`pixels flagged in ${EIGER_PATHS.pixelMask} set to 0`);
    if (segments.length > 1) notes.push(`${npos} frames from ${segments.length} data files, in the order of their link names`);

    const metadata: PartialMetadata = {};
    const px = length(input, EIGER_PATHS.pixelX, "m");
    const py = length(input, EIGER_PATHS.pixelY, "m");
    if (px && py && Math.abs(px.value - py.value) > 1e-3 * px.value) {
      throw new LayoutError(input.name, EIGER_PATHS.pixelY, `square pixels (as ${EIGER_PATHS.pixelX} = ${px.value} m)`, `${py.value} m`);
    }
    if (px) metadata.detector_pixel_size_m = sourced(px.value, px.from);
    const z = length(input, EIGER_PATHS.distance, "m");
    if (z) metadata.detector_distance_m = sourced(z.value, z.from);
    const e = energy(input, notes);
    if (e) metadata.energy_keV = sourced(e.value, e.from);
    const t = input.scalar(EIGER_PATHS.countTime);
    if (t) notes.push(`count time ${t.value} ${t.units ?? "s"} per frame (counts are kept as recorded)`);

    return {
      source: input.name, layout: "eiger", metadata, notes,
      ptycho: { npos, frameSize: crop.size, frames, from: `${input.name}:${EIGER_PATHS.data}` },
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}
